/**
 * Offline verification of license files: the TypeScript port of the Python verifier
 * (licensing/verify.py), with the same behaviour, proven by the same conformance vectors
 * (tests/vectors). No runtime dependency: Ed25519 comes from node:crypto (Node 20 or later).
 *
 *     import { parseKeyring, verify, LicenseError } from "licensing-verifier";
 *     const keyring = parseKeyring(bundledJwksText);
 *     const lic = verify(licenseText, keyring, { installationId });
 *     if (lic.hasFeature("saml")) { ... }
 *
 * A license file is a compact JWS (RFC 7515, alg EdDSA per RFC 8037, or Ed25519 per RFC 9864)
 * inside an armor block. Checks run in this order, so the most useful reason wins: armor and
 * envelope (malformed), header (unsupported), key (unknown_key), signature (bad_signature), claims
 * (malformed; unsupported for another ver), revocation (revoked), installation binding
 * (installation_mismatch), then time: clock_skew when iat is more than five minutes ahead of the
 * clock, not_yet_valid before nbf (with the same five minutes of leeway), expired after exp plus the
 * grace period. Every rejection is a LicenseError; no other exception escapes verify or
 * loadRevocations for any input. A bad argument from the calling program (a keyring that is not a
 * Keyring, a time that is not a time) throws TypeError or RangeError at once.
 */

import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { isJsonObject, JsonFloat, parseJson, plain, type JsonObject, type JsonValue } from "./json.js";

export type ErrorCode =
  | "malformed"
  | "unsupported"
  | "unknown_key"
  | "bad_signature"
  | "not_yet_valid"
  | "clock_skew"
  | "expired"
  | "revoked"
  | "installation_mismatch";

export const ERROR_CODES: readonly ErrorCode[] = Object.freeze([
  "malformed",
  "unsupported",
  "unknown_key",
  "bad_signature",
  "not_yet_valid",
  "clock_skew",
  "expired",
  "revoked",
  "installation_mismatch",
] as const);

/** A rejected license file or revocation list. `code` is stable; `message` is for people. */
export class LicenseError extends Error {
  override readonly name = "LicenseError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The JWKS given to parseKeyring is unusable. */
export class KeyringError extends Error {
  override readonly name = "KeyringError";
}

const LICENSE_LABEL = "LICENSE FILE";
const REVOCATIONS_LABEL = "LICENSE REVOCATIONS";
const LICENSE_TYP = "license+jwt";
const REVOCATIONS_TYP = "license-revocations+jwt";
const CLOCK_SKEW_SECONDS = 300;
/** @internal */
export const DAY = 86_400;
/** @internal */
export const MAX_TIME = 253_402_300_799; // 9999-12-31T23:59:59Z, the last NumericDate a verifier accepts
const MAX_GRACE_DAYS = 36_500;
const MAX_LICENSE_CHARS = 1_000_000;
const MAX_REVOCATIONS_CHARS = 64 * 1024 * 1024; // a revocation list's own limit: 67,108,864 characters
const ACCEPTED_ALGS = new Set(["EdDSA", "Ed25519"]);

/** @internal What a kind of armored JWS is called, its typ and its size limit. */
export interface Kind {
  readonly typ: string;
  readonly what: string;
  readonly maxChars: number;
  readonly begin: string;
  readonly end: string;
}

function kind(label: string, typ: string, what: string, maxChars: number): Kind {
  return { typ, what, maxChars, begin: `-----BEGIN ${label}-----`, end: `-----END ${label}-----` };
}

/** @internal */
export const LICENSE = kind(LICENSE_LABEL, LICENSE_TYP, "license file", MAX_LICENSE_CHARS);
const REVOCATIONS = kind(REVOCATIONS_LABEL, REVOCATIONS_TYP, "revocation list", MAX_REVOCATIONS_CHARS);
// The air-gapped exchanges (SPEC section 8): each the size limit of a license file.
const ACTIVATION_REQUEST = kind("LICENSE ACTIVATION REQUEST", "license-activation+jwt", "activation request", MAX_LICENSE_CHARS);
/** @internal */
export const USAGE_REPORT = kind("LICENSE USAGE REPORT", "license-usage+jwt", "usage report", MAX_LICENSE_CHARS);
/** @internal */
export const USAGE_RECEIPT = kind("LICENSE USAGE RECEIPT", "license-usage-receipt+jwt", "usage receipt", MAX_LICENSE_CHARS);

/** The armor labels: a license file, a revocation list, and the air-gapped exchanges. */
export type ArmorLabel =
  | "LICENSE FILE"
  | "LICENSE REVOCATIONS"
  | "LICENSE ACTIVATION REQUEST"
  | "LICENSE USAGE REPORT"
  | "LICENSE USAGE RECEIPT";

const KINDS: Readonly<Record<ArmorLabel, Kind>> = Object.freeze({
  "LICENSE FILE": LICENSE,
  "LICENSE REVOCATIONS": REVOCATIONS,
  "LICENSE ACTIVATION REQUEST": ACTIVATION_REQUEST,
  "LICENSE USAGE REPORT": USAGE_REPORT,
  "LICENSE USAGE RECEIPT": USAGE_RECEIPT,
});

// --- base64url -------------------------------------------------------------------------------------

const B64_VALUES = new Int8Array(128).fill(-1);
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
for (let i = 0; i < ALPHABET.length; i++) B64_VALUES[ALPHABET.charCodeAt(i)] = i;

function b64value(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c < 128 ? (B64_VALUES[c] as number) : -1;
}

/**
 * Unpadded base64url, strictly: only its alphabet, and only the canonical encoding (the spare bits
 * of the last character must be zero), so that every change to the text is a change to the bytes.
 */
/** @internal */
export function b64urlDecode(text: string): Uint8Array | undefined {
  const n = text.length;
  const tail = n % 4;
  if (tail === 1) return undefined;
  const out = new Uint8Array(((n - tail) / 4) * 3 + (tail === 0 ? 0 : tail - 1));
  let o = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = b64value(text, i);
    const b = b64value(text, i + 1);
    const c = b64value(text, i + 2);
    const d = b64value(text, i + 3);
    if ((a | b | c | d) < 0) return undefined;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >> 16;
    out[o++] = (v >> 8) & 0xff;
    out[o++] = v & 0xff;
  }
  if (tail === 2) {
    const a = b64value(text, i);
    const b = b64value(text, i + 1);
    if ((a | b) < 0 || (b & 0x0f) !== 0) return undefined;
    out[o] = (a << 2) | (b >> 4);
  } else if (tail === 3) {
    const a = b64value(text, i);
    const b = b64value(text, i + 1);
    const c = b64value(text, i + 2);
    if ((a | b | c) < 0 || (c & 0x03) !== 0) return undefined;
    const v = (a << 18) | (b << 12) | (c << 6);
    out[o++] = v >> 16;
    out[o] = (v >> 8) & 0xff;
  }
  return out;
}

// --- text ------------------------------------------------------------------------------------------

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Strict UTF-8 (no BOM stripping: a BOM is a character like any other here), or undefined. */
/** @internal */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The number of characters (code points, as Python counts a str) is above `limit`. */
function longerThan(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next < 0xe000) i++;
    }
    if (++count > limit) return true;
  }
  return false;
}

/** @internal */
export const NON_ASCII = /[^\x00-\x7f]/;
const E_MAIL_SPACES = /[\u00a0\u202f]/g;
const E_MAIL_INVISIBLES = /[\ufeff\u200b\u200c\u200d\u2060]/g;
/** @internal */
export const ASCII_WHITESPACE = /[ \t\r\n\f\v]+/g;

/** @internal */
export function armorBody(input: unknown, k: Kind): string {
  let text: string;
  if (typeof input === "string") {
    text = input;
  } else if (input instanceof Uint8Array) {
    const decoded = decodeUtf8(input);
    if (decoded === undefined) throw new LicenseError("malformed", `The ${k.what} is not UTF-8 text.`);
    text = decoded;
  } else {
    throw new LicenseError("malformed", `A ${k.what} must be text (a string or UTF-8 bytes).`);
  }
  if (longerThan(text, k.maxChars)) {
    throw new LicenseError("malformed", `The text is far too large to be a ${k.what}.`);
  }
  if (NON_ASCII.test(text)) {
    // What e-mail clients and editors add, anywhere (the BEGIN and END lines too): no-break spaces
    // read as spaces; a byte-order mark and zero-width spaces and joiners as nothing.
    text = text.replace(E_MAIL_SPACES, " ").replace(E_MAIL_INVISIBLES, "");
  }
  const begin = text.indexOf(k.begin);
  if (begin >= 0) {
    const start = begin + k.begin.length;
    const end = text.indexOf(k.end, start);
    if (end < 0) {
      throw new LicenseError(
        "malformed",
        `The ${k.what} has no END line: it was cut short. Copy the whole block, from its BEGIN line to its END line.`,
      );
    }
    return text.slice(start, end);
  }
  if (text.includes("-----BEGIN ")) {
    throw new LicenseError("malformed", `The text holds an armor block, but not a ${k.what}.`);
  }
  return text;
}

/** The compact JWS inside an armor block of the given kind, or a bare JWS given alone. */
export function unarmor(text: string | Uint8Array, label: ArmorLabel = LICENSE_LABEL): string {
  const k = Object.prototype.hasOwnProperty.call(KINDS, label) ? KINDS[label] : undefined;
  if (k === undefined) throw new TypeError(`unarmor: unknown armor label ${JSON.stringify(label)}`);
  return armorBody(text, k).replace(ASCII_WHITESPACE, "");
}

// --- keys ------------------------------------------------------------------------------------------

const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** The RFC 7638 thumbprint (SHA-256, base64url) of an Ed25519 public key given as its JWK `x`. */
export function jwkThumbprint(x: string): string {
  return createHash("sha256").update(JSON.stringify({ crv: "Ed25519", kty: "OKP", x })).digest("base64url");
}

/** The public keys a verifier trusts, by key id. */
export class Keyring {
  readonly #keys: ReadonlyMap<string, KeyObject>;

  /** @internal Use parseKeyring. */
  constructor(keys: ReadonlyMap<string, KeyObject>) {
    this.#keys = keys;
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()].sort();
  }

  /** @internal */
  key(kid: string): KeyObject | undefined {
    return this.#keys.get(kid);
  }
}

/** @internal */
export function entryOf(object: JsonObject | Record<string, unknown>, name: string): unknown {
  return Object.prototype.hasOwnProperty.call(object, name) ? object[name] : undefined;
}

function has(object: JsonObject | Record<string, unknown>, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, name);
}

/**
 * Read a JWKS (RFC 7517): its JSON text, its UTF-8 bytes, or the parsed object. Ed25519 signing keys
 * are kept (kty OKP, crv Ed25519, use sig or absent, alg EdDSA, Ed25519 or absent); others are skipped.
 * A key without a kid is known by its RFC 7638 thumbprint. Throws KeyringError when the document is
 * not a JWKS, holds an Ed25519 key whose "x" is not 32 bytes of base64url, or holds no usable key.
 */
export function parseKeyring(jwks: string | Uint8Array | object): Keyring {
  let document: unknown;
  if (typeof jwks === "string" || jwks instanceof Uint8Array) {
    let text: string | undefined;
    if (typeof jwks === "string") {
      text = jwks;
    } else {
      const hasBom = jwks.length >= 3 && jwks[0] === 0xef && jwks[1] === 0xbb && jwks[2] === 0xbf;
      text = decodeUtf8(hasBom ? jwks.subarray(3) : jwks); // bytes may start with a BOM, as in Python
    }
    document = text === undefined ? undefined : parseJson(text);
    if (document === undefined) throw new KeyringError("The JWKS is not JSON.");
  } else {
    document = jwks;
  }
  const isObject = typeof document === "object" && document !== null && !Array.isArray(document);
  const entries = isObject ? entryOf(document as Record<string, unknown>, "keys") : undefined;
  if (!Array.isArray(entries)) throw new KeyringError('The JWKS must be a JSON object with a "keys" array.');
  const keys = new Map<string, KeyObject>();
  for (const entry of entries as unknown[]) {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) continue;
    const e = entry as Record<string, unknown>;
    if (entryOf(e, "kty") !== "OKP" || entryOf(e, "crv") !== "Ed25519") continue;
    if (has(e, "use") && entryOf(e, "use") !== "sig") continue;
    if (has(e, "alg")) {
      const alg = entryOf(e, "alg");
      if (typeof alg !== "string" || !ACCEPTED_ALGS.has(alg)) continue;
    }
    const x = entryOf(e, "x");
    const raw = typeof x === "string" ? b64urlDecode(x) : undefined;
    if (typeof x !== "string" || raw === undefined || raw.length !== 32) {
      throw new KeyringError(`The JWKS holds an Ed25519 key whose "x" is not 32 bytes of base64url: ${describe(x)}.`);
    }
    const kid = entryOf(e, "kid");
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: "der", type: "spki" });
    keys.set(typeof kid === "string" && kid !== "" ? kid : jwkThumbprint(x), key);
  }
  if (keys.size === 0) throw new KeyringError("The JWKS holds no Ed25519 signing key.");
  return new Keyring(keys);
}

// --- the envelope ----------------------------------------------------------------------------------

function describe(value: unknown): string {
  if (value === undefined || value === null) return "none";
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof JsonFloat) return String(value.value);
  if (typeof value === "object") return "an object";
  return String(value);
}

/** Lower-cases A-Z only: no other character can make a typ match (see the Go port for why). */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

// Protected headers that passed the header check, by kind and segment: every file signed by a key
// has the same header, so re-verifying skips parsing it. Bounded: short segments only, emptied when full.
const headerMemo = new Map<string, JsonValue | undefined>();
const HEADER_MEMO_MAX = 64;
const HEADER_MEMO_MAX_CHARS = 512;

function headerKid(segment: string, k: Kind): JsonValue | undefined {
  const memoKey = segment.length <= HEADER_MEMO_MAX_CHARS ? `${k.typ}.${segment}` : undefined;
  if (memoKey !== undefined && headerMemo.has(memoKey)) return headerMemo.get(memoKey);
  const raw = b64urlDecode(segment);
  if (raw === undefined) throw new LicenseError("malformed", `The ${k.what}'s header is not canonical base64url text.`);
  const text = decodeUtf8(raw);
  const header = text === undefined ? undefined : parseJson(text);
  if (!isJsonObject(header)) throw new LicenseError("malformed", `The ${k.what}'s header is not a JSON object.`);
  const alg = entryOf(header, "alg");
  if (typeof alg !== "string" || !ACCEPTED_ALGS.has(alg)) {
    throw new LicenseError("unsupported", `Signature algorithm ${describe(alg)} is not accepted; only EdDSA (Ed25519) is.`);
  }
  const typ = entryOf(header, "typ");
  if (typeof typ !== "string" || asciiLower(typ).replace(/^application\//, "") !== k.typ) {
    throw new LicenseError(
      "unsupported",
      `The file is of type ${describe(typ)}, not ${JSON.stringify(k.typ)}: it is not a ${k.what}.`,
    );
  }
  if (has(header, "crit")) {
    throw new LicenseError(
      "unsupported",
      `The ${k.what} requires header extensions this verifier does not know. Update the product.`,
    );
  }
  const kid = entryOf(header, "kid") as JsonValue | undefined;
  if (memoKey !== undefined) {
    if (headerMemo.size >= HEADER_MEMO_MAX) headerMemo.clear();
    headerMemo.set(memoKey, kid);
  }
  return kid;
}

/** Armor, header, key and signature checked: the claims (with ver 1) and the key id. */
/** @internal */
export function decodeJws(input: unknown, keyring: Keyring, k: Kind): { claims: JsonObject; kid: string } {
  const compact = armorBody(input, k).replace(ASCII_WHITESPACE, "");
  if (NON_ASCII.test(compact)) {
    throw new LicenseError("malformed", `The ${k.what} holds characters that cannot be part of one.`);
  }
  const parts = compact.split(".");
  // An empty signature is left to the header check: an unsecured JWS (alg none) is "unsupported".
  if (parts.length !== 3 || !parts[0] || !parts[1]) {
    throw new LicenseError(
      "malformed",
      `No ${k.what} was found in the text: expected an armor block or a compact JWS.`,
    );
  }
  const [head, body, sig] = parts as [string, string, string];
  const kidValue = headerKid(head, k);
  const signature = b64urlDecode(sig);
  if (signature === undefined) {
    throw new LicenseError("malformed", `The ${k.what}'s signature is not canonical base64url text.`);
  }
  const payload = b64urlDecode(body);
  if (payload === undefined) {
    throw new LicenseError("malformed", `The ${k.what}'s contents are not canonical base64url text.`);
  }
  const key = typeof kidValue === "string" ? keyring.key(kidValue) : undefined;
  if (key === undefined) {
    throw new LicenseError(
      "unknown_key",
      `The ${k.what} was signed with key ${describe(kidValue)}, which this installation does not know. ` +
        "Update the product, or import the issuer's current public keys.",
    );
  }
  const signed = Buffer.from(compact.slice(0, head.length + 1 + body.length), "latin1");
  if (!cryptoVerify(null, signed, key, signature)) {
    throw new LicenseError(
      "bad_signature",
      `The signature does not match the contents: the ${k.what} was altered or damaged. Download it again from the issuer.`,
    );
  }
  const text = decodeUtf8(payload);
  const claims = text === undefined ? undefined : parseJson(text);
  if (!isJsonObject(claims)) throw new LicenseError("malformed", `The ${k.what}'s contents are not a JSON object.`);
  const ver = entryOf(claims, "ver");
  if (ver !== 1) {
    throw new LicenseError(
      "unsupported",
      `The ${k.what} is of format version ${describe(ver)}; this verifier reads version 1. Update the product.`,
    );
  }
  return { claims, kid: kidValue as string };
}

// --- claims ----------------------------------------------------------------------------------------

/** A JSON integer (never a float or a bool), as a number; bigints saturate. */
/** @internal */
export function wholeNumber(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return value < 0n ? -Infinity : Infinity;
  return undefined;
}

/** @internal */
export function numericDate(claims: JsonObject, name: string, what: string): number {
  const value = wholeNumber(entryOf(claims, name));
  if (value === undefined || value < 0 || value > MAX_TIME) {
    throw new LicenseError("malformed", `The ${what}'s "${name}" must be a NumericDate (whole seconds since 1970).`);
  }
  return value;
}

/** @internal */
export function nonEmptyString(claims: JsonObject, name: string, what: string): string {
  const value = entryOf(claims, name);
  if (typeof value !== "string" || value === "") {
    throw new LicenseError("malformed", `The ${what}'s "${name}" must be a non-empty string.`);
  }
  return value;
}

function optionalString(claims: JsonObject, name: string): string | null {
  const value = entryOf(claims, name);
  return value === undefined || value === null ? null : nonEmptyString(claims, name, "license file");
}

/** @internal */
export function saturate(value: number): number {
  return Math.min(value, Number.MAX_SAFE_INTEGER);
}

export interface Customer {
  readonly name: string | null;
  readonly email: string | null;
  readonly company: string | null;
}

/** A verified license. Times are Dates; expiresAt and graceEndsAt are null when perpetual. */
export class License {
  /** "valid", or "grace": past exp, within the grace period (it works; the product should say so). */
  readonly status: "valid" | "grace";
  readonly id: string;
  readonly issuer: string;
  readonly subject: string;
  readonly tier: string;
  readonly trial: boolean;
  /** null: unlimited. Past 2^53 - 1 it reads as Number.MAX_SAFE_INTEGER. */
  readonly seats: number | null;
  readonly features: readonly string[];
  readonly graceDays: number;
  readonly customer: Customer;
  readonly installationId: string | null;
  readonly subscriptionId: string | null;
  readonly supersedes: string | null;
  /**
   * The RFC 7638 thumbprint of the installation key the license is bound to (its `cnf.jkt` claim,
   * RFC 7800), or null. Verification ignores it, as it ignores every claim it does not check.
   */
  readonly cnfJkt: string | null;
  readonly issuedAt: Date;
  readonly notBefore: Date;
  readonly expiresAt: Date | null;
  readonly graceEndsAt: Date | null;
  readonly keyId: string;
  readonly #raw: JsonObject;
  #claims: Readonly<Record<string, unknown>> | undefined;

  /** @internal */
  constructor(fields: Omit<License, "claims" | "hasFeature">, raw: JsonObject) {
    this.status = fields.status;
    this.id = fields.id;
    this.issuer = fields.issuer;
    this.subject = fields.subject;
    this.tier = fields.tier;
    this.trial = fields.trial;
    this.seats = fields.seats;
    this.features = fields.features;
    this.graceDays = fields.graceDays;
    this.customer = fields.customer;
    this.installationId = fields.installationId;
    this.subscriptionId = fields.subscriptionId;
    this.supersedes = fields.supersedes;
    this.cnfJkt = fields.cnfJkt;
    this.issuedAt = fields.issuedAt;
    this.notBefore = fields.notBefore;
    this.expiresAt = fields.expiresAt;
    this.graceEndsAt = fields.graceEndsAt;
    this.keyId = fields.keyId;
    this.#raw = raw;
  }

  /** Every claim, unknown ones included (numbers as numbers; integers past 2^53 - 1 as bigints). */
  get claims(): Readonly<Record<string, unknown>> {
    this.#claims ??= plain(this.#raw) as Record<string, unknown>;
    return this.#claims;
  }

  /** Whether the license grants the feature (names are exact, case-sensitive). */
  hasFeature(name: string): boolean {
    return this.features.includes(name);
  }
}

/** @internal */
export function seconds(value: number): Date {
  return new Date(value * 1000);
}

function readLicense(claims: JsonObject, kid: string): Omit<License, "claims" | "hasFeature"> {
  const what = "license file";
  const issuer = nonEmptyString(claims, "iss", what);
  const id = nonEmptyString(claims, "jti", what);
  const subject = nonEmptyString(claims, "sub", what);
  const tier = nonEmptyString(claims, "tier", what);
  const iat = numericDate(claims, "iat", what);
  const nbf = numericDate(claims, "nbf", what);
  const expValue = entryOf(claims, "exp");
  const exp = expValue === undefined || expValue === null ? null : numericDate(claims, "exp", what);
  if (exp !== null && exp < nbf) throw new LicenseError("malformed", "The license file expires before it becomes valid.");
  const trial = entryOf(claims, "trial");
  if (typeof trial !== "boolean") throw new LicenseError("malformed", 'The license file\'s "trial" must be true or false.');
  let seats: number | null = null;
  const seatsValue = entryOf(claims, "seats");
  if (seatsValue !== null) {
    const n = wholeNumber(seatsValue);
    if (n === undefined || n < 1) {
      throw new LicenseError(
        "malformed",
        'The license file\'s "seats" must be a positive whole number, or null for unlimited.',
      );
    }
    seats = saturate(n);
  }
  const features = entryOf(claims, "features");
  if (!Array.isArray(features) || !features.every((f) => typeof f === "string")) {
    throw new LicenseError("malformed", 'The license file\'s "features" must be an array of strings.');
  }
  const graceDays = wholeNumber(entryOf(claims, "grace_days"));
  if (graceDays === undefined || graceDays < 0 || graceDays > MAX_GRACE_DAYS) {
    throw new LicenseError("malformed", 'The license file\'s "grace_days" must be a whole number of days, 0 or more.');
  }
  const customerValue = entryOf(claims, "customer");
  const customerFields = ["name", "email", "company"] as const;
  if (
    !isJsonObject(customerValue as JsonValue) ||
    !customerFields.every((f) => {
      const v = entryOf(customerValue as JsonObject, f);
      return v === undefined || v === null || typeof v === "string";
    })
  ) {
    throw new LicenseError("malformed", 'The license file\'s "customer" must be an object of name, email and company.');
  }
  const c = customerValue as JsonObject;
  const customer: Customer = Object.freeze({
    name: (entryOf(c, "name") as string | null | undefined) ?? null,
    email: (entryOf(c, "email") as string | null | undefined) ?? null,
    company: (entryOf(c, "company") as string | null | undefined) ?? null,
  });
  const installationId = optionalString(claims, "installation_id");
  const subscriptionId = optionalString(claims, "subscription_id");
  const supersedes = optionalString(claims, "supersedes");
  return {
    cnfJkt: cnfJkt(claims),
    status: "valid",
    id,
    issuer,
    subject,
    tier,
    trial,
    seats,
    features: Object.freeze([...(features as string[])]),
    graceDays,
    customer,
    installationId,
    subscriptionId,
    supersedes,
    issuedAt: seconds(iat),
    notBefore: seconds(nbf),
    expiresAt: exp === null ? null : seconds(exp),
    graceEndsAt: exp === null ? null : seconds(Math.min(exp + graceDays * DAY, MAX_TIME)),
    keyId: kid,
  };
}

/** @internal The cnf claim's jkt (RFC 7800), when it is a non-empty string; never a reason to refuse. */
export function cnfJkt(claims: JsonObject): string | null {
  const cnf = entryOf(claims, "cnf");
  const jkt = isJsonObject(cnf as JsonValue | undefined) ? entryOf(cnf as JsonObject, "jkt") : undefined;
  return typeof jkt === "string" && jkt !== "" ? jkt : null;
}

// --- revocation lists ------------------------------------------------------------------------------

/** A verified revocation list: license ids and when each was revoked. */
export class RevocationList {
  readonly issuer: string;
  readonly issuedAt: Date;
  /**
   * Grows by one with every re-signing: keep the newest list seen and refuse an older one replayed
   * to the installation. A list without seq reads as 0; past 2^53 - 1 it reads as MAX_SAFE_INTEGER.
   */
  readonly seq: number;
  readonly keyId: string;
  readonly #revoked: ReadonlyMap<string, Date>;

  /** @internal Use loadRevocations. */
  constructor(issuer: string, issuedAt: Date, seq: number, keyId: string, revoked: ReadonlyMap<string, Date>) {
    this.issuer = issuer;
    this.issuedAt = issuedAt;
    this.seq = seq;
    this.keyId = keyId;
    this.#revoked = revoked;
  }

  /** The number of revoked licenses. */
  get length(): number {
    return this.#revoked.size;
  }

  has(licenseId: string): boolean {
    return this.#revoked.has(licenseId);
  }

  revokedAt(licenseId: string): Date | undefined {
    const at = this.#revoked.get(licenseId);
    return at === undefined ? undefined : new Date(at.getTime());
  }

  /** The revoked license ids, sorted. */
  ids(): string[] {
    return [...this.#revoked.keys()].sort();
  }
}

function readRevocations(input: unknown, keyring: Keyring): RevocationList {
  const what = "revocation list";
  const { claims, kid } = decodeJws(input, keyring, REVOCATIONS);
  const issuer = nonEmptyString(claims, "iss", what);
  const iat = numericDate(claims, "iat", what);
  let seq = 0;
  if (has(claims, "seq")) {
    const n = wholeNumber(entryOf(claims, "seq"));
    if (n === undefined || n < 0) {
      throw new LicenseError("malformed", 'The revocation list\'s "seq" must be a whole number, 0 or more.');
    }
    seq = saturate(n);
  }
  const entries = entryOf(claims, "revoked");
  if (!Array.isArray(entries)) throw new LicenseError("malformed", 'The revocation list has no "revoked" array.');
  const revoked = new Map<string, Date>();
  for (const entry of entries) {
    if (!isJsonObject(entry)) {
      throw new LicenseError("malformed", 'Each revocation must be an object with "jti" and "revoked_at".');
    }
    const jti = nonEmptyString(entry, "jti", what);
    revoked.set(jti, seconds(numericDate(entry, "revoked_at", what)));
  }
  return new RevocationList(issuer, seconds(iat), seq, kid, revoked);
}

/** @internal */
export function checkKeyring(keyring: unknown): asserts keyring is Keyring {
  if (!(keyring instanceof Keyring)) throw new TypeError("keyring must be a Keyring from parseKeyring()");
}

/** @internal */
export function guarded<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof LicenseError) throw error;
    // A safety net: the contract is LicenseError only.
    throw new LicenseError("malformed", `The ${what} could not be read.`, { cause: error });
  }
}

/**
 * Verify an armored (or bare) revocation list signed by a key of the keyring. Load it once and pass
 * it to every verify(). A revocation list may be up to 64 MiB of text, far above a license file's limit.
 */
export function loadRevocations(text: string | Uint8Array, keyring: Keyring): RevocationList {
  checkKeyring(keyring);
  return guarded("revocation list", () => readRevocations(text, keyring));
}

// --- verify ----------------------------------------------------------------------------------------

export interface VerifyOptions {
  /** The time to verify at: a Date, or POSIX seconds. Default: the system clock. */
  now?: Date | number;
  /**
   * This installation's id. A license bound to another installation, or bound while no id is
   * given, is rejected (installation_mismatch).
   */
  installationId?: string | null;
  /**
   * The issuer's revocation list: loaded with loadRevocations(), or its text (verified with the same
   * keyring); or plain revoked license ids.
   */
  revocations?: RevocationList | string | Uint8Array | Iterable<string> | null;
}

/** @internal */
export function nowSeconds(now: Date | number | undefined): number {
  if (now === undefined) return Math.trunc(Date.now() / 1000);
  let value: number;
  if (now instanceof Date) value = Math.floor(now.getTime() / 1000);
  else if (typeof now === "number") value = now;
  else throw new TypeError("now must be a Date or POSIX seconds");
  if (!(value >= 0 && value < MAX_TIME + 1)) {
    throw new RangeError(`now must be a time between 1970 and 9999 (UTC), not ${String(now)}`);
  }
  return Math.trunc(value); // toward zero, as Python's int() does
}

function formatTime(value: number): string {
  const date = seconds(value);
  if (Number.isNaN(date.getTime())) return `${value} seconds after 1970`; // beyond what a Date holds
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/**
 * Verify a license file (armored, or a bare compact JWS; a string or UTF-8 bytes) offline. Returns
 * the License, with status "valid" or "grace", or throws a LicenseError.
 */
export function verify(text: string | Uint8Array, keyring: Keyring, options: VerifyOptions = {}): License {
  checkKeyring(keyring);
  const now = nowSeconds(options.now);
  const installationId = options.installationId ?? null;
  if (installationId !== null && typeof installationId !== "string") {
    throw new TypeError("installationId must be a string");
  }
  let revocations = options.revocations ?? null;
  if (
    revocations !== null &&
    !(revocations instanceof RevocationList) &&
    typeof revocations !== "string" &&
    !(revocations instanceof Uint8Array)
  ) {
    if (typeof (revocations as Iterable<unknown>)[Symbol.iterator] !== "function") {
      throw new TypeError("revocations must be a RevocationList from loadRevocations(), its text, or license ids");
    }
    revocations = revocations instanceof Set ? (revocations as Set<string>) : new Set(revocations);
  }
  return guarded("license file", () => {
    const { claims, kid } = decodeJws(text, keyring, LICENSE);
    const fields = readLicense(claims, kid);
    if (revocations !== null) {
      const list =
        typeof revocations === "string" || revocations instanceof Uint8Array
          ? readRevocations(revocations, keyring)
          : (revocations as RevocationList | Set<string>);
      if (list.has(fields.id)) {
        throw new LicenseError("revoked", `License ${fields.id} has been revoked by its issuer. Contact them for a new one.`);
      }
    }
    const bound = fields.installationId;
    if (bound !== null && bound !== installationId) {
      throw new LicenseError(
        "installation_mismatch",
        installationId === null
          ? `The license file is bound to installation ${JSON.stringify(bound)}, and no installation id was given ` +
              "to check it against. Pass this installation's id: the installationId option of verify()."
          : `The license file is bound to installation ${JSON.stringify(bound)}, not to this one ` +
              `(${JSON.stringify(installationId)}). Ask the issuer for a license for this installation.`,
      );
    }
    const iat = fields.issuedAt.getTime() / 1000;
    const nbf = fields.notBefore.getTime() / 1000;
    if (iat > now + CLOCK_SKEW_SECONDS) {
      throw new LicenseError(
        "clock_skew",
        `The license file was issued at ${formatTime(iat)}, later than this machine's clock says it is ` +
          `(${formatTime(now)}). Check the system clock.`,
      );
    }
    if (now + CLOCK_SKEW_SECONDS < nbf) {
      throw new LicenseError("not_yet_valid", `The license file becomes valid at ${formatTime(nbf)}.`);
    }
    let status: "valid" | "grace" = "valid";
    if (fields.expiresAt !== null) {
      const exp = fields.expiresAt.getTime() / 1000;
      if (now >= exp) {
        if (now >= exp + fields.graceDays * DAY) {
          throw new LicenseError(
            "expired",
            `The license file expired at ${formatTime(exp)}` +
              (fields.graceDays ? ` and its ${fields.graceDays}-day grace period has ended` : "") +
              ". Renew it, or install a newer license file.",
          );
        }
        status = "grace";
      }
    }
    return new License({ ...fields, status }, claims);
  });
}
