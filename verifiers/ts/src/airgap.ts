/**
 * The air-gapped file exchanges (SPEC section 8), the port of licensing/airgap/: what a self-hosted
 * server on a network that never reaches the internet needs to deal with its vendor by files an
 * administrator carries. Each file is an armored compact JWS (EdDSA over Ed25519) like a license file.
 *
 *     const key = newInstallationKey();                       // keep key.privatePem() (0600)
 *     const request = activationRequest(key, installationId, { licenseText });
 *     const log = UsageLog.open(path, key, boundLicenseText);  // a local file; survives restarts
 *     log.record(activeUsers);                                 // each UTC day's highest count
 *     const report = log.export();                             // chained: seq, prev
 *     const receipt = verifyReceipt(receiptText, keyring, { reportDigest: log.lastDigest });
 *     console.log(String(compare(installedLicense, newLicense)));
 *
 * Nothing here touches the network or imports anything but node builtins. Errors: LicenseError (the
 * verifier's codes) for a file that is not what it should be (a receipt, or a license text read for
 * its id); AirgapError (code bad_key, bad_log, other_key or already_reported) for the local key and
 * log; TypeError or RangeError for a bad argument from the calling program; and the errors of
 * node:fs when the log cannot be read or written (a permission, a full disk).
 */

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign as cryptoSign,
  type KeyObject,
} from "node:crypto";
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

import { isJsonObject, parseJson, type JsonObject } from "./json.js";
import {
  ASCII_WHITESPACE,
  DAY,
  LICENSE,
  License,
  LicenseError,
  MAX_TIME,
  NON_ASCII,
  USAGE_RECEIPT,
  USAGE_REPORT,
  armorBody,
  b64urlDecode,
  checkKeyring,
  cnfJkt,
  decodeJws,
  decodeUtf8,
  entryOf,
  guarded,
  nonEmptyString,
  nowSeconds,
  numericDate,
  saturate,
  seconds,
  wholeNumber,
  type Keyring,
} from "./verify.js";

// An export's until may be this far past the clock (the verifier's clock-skew leeway), no further.
const FUTURE_LEEWAY_SECONDS = 300;

// --- errors ----------------------------------------------------------------------------------------

export type AirgapErrorCode = "bad_key" | "bad_log" | "other_key" | "already_reported";

export const AIRGAP_ERROR_CODES: readonly AirgapErrorCode[] = Object.freeze([
  "bad_key",
  "bad_log",
  "other_key",
  "already_reported",
] as const);

/**
 * The installation's own key or usage log cannot be used. `code`:
 * - `bad_key`: the PEM is not an Ed25519 private key (unencrypted PKCS#8);
 * - `bad_log`: the usage log file is damaged, or is not a usage log;
 * - `other_key`: the usage log, or the license's `cnf`, belongs to another installation key;
 * - `already_reported`: record() for a UTC day a report already covers, or export() until a day
 *   before the last report's period ends (reports never go back).
 */
export class AirgapError extends Error {
  override readonly name = "AirgapError";
  constructor(
    readonly code: AirgapErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// --- encoding --------------------------------------------------------------------------------------

const ARMOR_WIDTH = 64;
const MAX_ID_CHARS = 200;
const MAX_PEM_CHARS = 64 * 1024;
const MAX_LOG_BYTES = 16 * 1024 * 1024;
const ACTIVATION_LABEL = "LICENSE ACTIVATION REQUEST";
const ACTIVATION_TYP = "license-activation+jwt";
const REPORT_LABEL = "LICENSE USAGE REPORT";
const NONCE_BYTES = 16;

function b64url(data: Uint8Array | string): string {
  return Buffer.from(data).toString("base64url");
}

function armor(compact: string, label: string): string {
  const lines: string[] = [];
  for (let i = 0; i < compact.length; i += ARMOR_WIDTH) lines.push(compact.slice(i, i + ARMOR_WIDTH));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The digest of a compact JWS: base64url(SHA-256 of its ASCII text), as `prev` and a receipt's `report`. */
function digestOf(compact: string): string {
  return createHash("sha256").update(compact, "latin1").digest("base64url");
}

/**
 * The digest of a usage report (armored, or its bare compact JWS), as a receipt names it in
 * `report` and the next report in `prev`: base64url of the SHA-256 of the compact JWS. Throws a
 * LicenseError (malformed) when the text holds no usage report.
 */
export function reportDigest(report: string | Uint8Array): string {
  if (typeof report !== "string" && !(report instanceof Uint8Array)) {
    throw new TypeError("reportDigest: the report must be a string or UTF-8 bytes");
  }
  return guarded("usage report", () => {
    const compact = armorBody(report, USAGE_REPORT).replace(ASCII_WHITESPACE, "");
    const parts = compact.split(".");
    if (NON_ASCII.test(compact) || parts.length !== 3 || parts.some((p) => p === "" || b64urlDecode(p) === undefined)) {
      throw new LicenseError("malformed", "No usage report was found in the text: expected an armor block or a compact JWS.");
    }
    return digestOf(compact);
  });
}

// Python's str.isprintable(), plus the space: no control, format, surrogate, private-use or
// unassigned character, and no separator but U+0020.
const PRINTABLE = /^(?:[^\p{C}\p{Z}]| )+$/u;

function isInstallationId(value: unknown): value is string {
  if (typeof value !== "string" || value.length > 2 * MAX_ID_CHARS) return false;
  const length = [...value].length;
  return length >= 1 && length <= MAX_ID_CHARS && PRINTABLE.test(value);
}

/** An installation id from the calling program: 1 to 200 printable characters. */
function checkId(value: unknown, name: string): string {
  if (typeof value !== "string") throw new TypeError(`${name} must be a string`);
  if (!isInstallationId(value)) {
    throw new RangeError(`${name} must be 1 to ${MAX_ID_CHARS} printable characters, not ${JSON.stringify(value)}`);
  }
  return value;
}

function checkNonEmpty(value: unknown, name: string): string {
  if (typeof value !== "string") throw new TypeError(`${name} must be a string`);
  if (value === "") throw new RangeError(`${name} must not be empty`);
  return value;
}

// --- the installation key --------------------------------------------------------------------------

/** An Ed25519 public key as a JWK (RFC 8037). */
export interface PublicJwk {
  readonly kty: "OKP";
  readonly crv: "Ed25519";
  readonly x: string;
}

/**
 * The installation's own Ed25519 key pair: it signs activation requests and usage reports. Keep the
 * private half (privatePem()) where only the product can read it; the license bound to this
 * installation names the public half by its thumbprint (`cnf.jkt`).
 */
export class InstallationKey {
  readonly #privateKey: KeyObject;
  /** The public half, as a JWK: {"kty": "OKP", "crv": "Ed25519", "x": ...}. */
  readonly publicJwk: PublicJwk;
  /** The RFC 7638 thumbprint of the public key: the `kid` of usage reports, a bound license's `cnf.jkt`. */
  readonly thumbprint: string;

  private constructor(privateKey: KeyObject) {
    this.#privateKey = privateKey;
    const x = (createPublicKey(privateKey).export({ format: "jwk" }) as { x?: unknown }).x;
    if (typeof x !== "string") throw new AirgapError("bad_key", "The key has no Ed25519 public half.");
    this.publicJwk = Object.freeze({ kty: "OKP", crv: "Ed25519", x });
    this.thumbprint = jwkThumbprintOf(x);
  }

  /** A new random key pair. */
  static generate(): InstallationKey {
    return new InstallationKey(generateKeyPairSync("ed25519").privateKey);
  }

  /**
   * The key from its private half as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, or an encrypted
   * one with its passphrase), as privatePem() wrote it. Throws AirgapError (bad_key) for anything
   * else: another kind of key, a damaged PEM, a wrong or missing passphrase, a public key.
   */
  static fromPem(pem: string | Uint8Array, passphrase?: string): InstallationKey {
    let text: string | undefined;
    if (typeof pem === "string") text = pem;
    else if (pem instanceof Uint8Array) text = decodeUtf8(pem);
    else throw new TypeError("InstallationKey.fromPem: the PEM must be a string or UTF-8 bytes");
    if (passphrase !== undefined && typeof passphrase !== "string") throw new TypeError("passphrase must be a string");
    const encrypted = text?.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----") ?? false;
    if (text === undefined || text.length > MAX_PEM_CHARS || !(encrypted || text.includes("-----BEGIN PRIVATE KEY-----"))) {
      throw new AirgapError("bad_key", "The installation key is not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----).");
    }
    if (encrypted && !passphrase) {
      throw new AirgapError("bad_key", "The installation key is encrypted: give its passphrase.");
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(encrypted ? { key: text, format: "pem", passphrase: passphrase as string } : { key: text, format: "pem" });
    } catch {
      throw new AirgapError(
        "bad_key",
        encrypted
          ? "The installation key cannot be decrypted: the passphrase is wrong, or the PEM is damaged."
          : "The installation key's PEM is damaged: it holds no private key.",
      );
    }
    if (key.asymmetricKeyType !== "ed25519") {
      throw new AirgapError("bad_key", `The installation key is an ${String(key.asymmetricKeyType)} key, not an Ed25519 one.`);
    }
    return new InstallationKey(key);
  }

  /**
   * The private half as PKCS#8 PEM, encrypted (AES-256-CBC) when a passphrase is given. Store it
   * with mode 0600; never log it.
   */
  privatePem(passphrase?: string): string {
    if (passphrase === undefined || passphrase === "") {
      return this.#privateKey.export({ format: "pem", type: "pkcs8" }) as string;
    }
    if (typeof passphrase !== "string") throw new TypeError("passphrase must be a string");
    return this.#privateKey.export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase }) as string;
  }

  /** @internal A compact JWS of the header and claims (objects, or their compact JSON), signed with this key. */
  signCompact(header: object, claims: object | string): string {
    const payload = typeof claims === "string" ? claims : JSON.stringify(claims);
    const input = `${b64url(JSON.stringify(header))}.${b64url(payload)}`;
    return `${input}.${b64url(cryptoSign(null, Buffer.from(input, "ascii"), this.#privateKey))}`;
  }

  toString(): string {
    return `InstallationKey(${this.thumbprint})`;
  }

  toJSON(): { thumbprint: string; publicJwk: PublicJwk } {
    return { thumbprint: this.thumbprint, publicJwk: this.publicJwk };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

function jwkThumbprintOf(x: string): string {
  return createHash("sha256").update(JSON.stringify({ crv: "Ed25519", kty: "OKP", x })).digest("base64url");
}

/** A new random installation key (InstallationKey.generate()). */
export function newInstallationKey(): InstallationKey {
  return InstallationKey.generate();
}

function checkKey(key: unknown): asserts key is InstallationKey {
  if (!(key instanceof InstallationKey)) throw new TypeError("key must be an InstallationKey");
}

// --- what an installation reads of its license, unverified ---------------------------------------

interface LicenseFacts {
  readonly id: string;
  readonly installationId: string | null;
  readonly cnfJkt: string | null;
}

/**
 * The license's id, binding and cnf, read WITHOUT checking its signature: the installation may hold
 * a file that has expired or is signed by a key it does not know yet. A License from verify() is
 * taken as it is. Throws LicenseError (malformed) when the text holds no license file.
 */
function licenseFacts(license: unknown): LicenseFacts {
  if (license instanceof License) {
    return { id: license.id, installationId: license.installationId, cnfJkt: license.cnfJkt };
  }
  if (typeof license !== "string" && !(license instanceof Uint8Array)) {
    throw new TypeError("the license must be its text (a string or UTF-8 bytes) or a License from verify()");
  }
  return guarded("license file", () => {
    const compact = armorBody(license, LICENSE).replace(ASCII_WHITESPACE, "");
    const parts = compact.split(".");
    const payload = !NON_ASCII.test(compact) && parts.length === 3 && parts[0] ? b64urlDecode(parts[1] ?? "") : undefined;
    const text = payload === undefined ? undefined : decodeUtf8(payload);
    const claims = text === undefined ? undefined : parseJson(text);
    if (!isJsonObject(claims)) {
      throw new LicenseError("malformed", "No license file was found in the text: expected an armor block or a compact JWS.");
    }
    const id = nonEmptyString(claims, "jti", "license file");
    const bound = entryOf(claims, "installation_id");
    if (bound !== undefined && bound !== null && (typeof bound !== "string" || bound === "")) {
      throw new LicenseError("malformed", 'The license file\'s "installation_id" must be a non-empty string.');
    }
    return { id, installationId: (bound as string | null | undefined) ?? null, cnfJkt: cnfJkt(claims) };
  });
}

// --- 1. the activation request ---------------------------------------------------------------------

export interface ActivationRequestOptions {
  /** The license to bind (its text, or a verified License): its id is read from it, unverified. */
  licenseText?: string | Uint8Array | License | null;
  /** The id of the license to bind, when no license text is at hand. */
  licenseId?: string | null;
  /** The product's version, for the vendor's records (omitted when null). */
  productVersion?: string | null;
  /** The time to sign at: a Date or POSIX seconds. Default: the system clock. */
  now?: Date | number;
  /** For tests only (reproducible files): the 16 bytes of the nonce. Default: random. */
  nonce?: Uint8Array;
}

/**
 * An activation request (`LICENSE ACTIVATION REQUEST`), armored, signed by the installation key and
 * carrying its public JWK: the administrator uploads it, and the vendor answers with the license
 * bound to this installation (`installation_id`, and `cnf.jkt` = key.thumbprint).
 *
 * The license to bind is named by licenseText (its `jti`, read without verifying) or licenseId; a
 * request naming none cannot be made (TypeError), nor one whose two names differ (RangeError).
 * installationId is 1 to 200 printable characters, licenseId and productVersion non-empty (RangeError).
 */
export function activationRequest(
  key: InstallationKey,
  installationId: string,
  options: ActivationRequestOptions = {},
): string {
  checkKey(key);
  checkId(installationId, "installationId");
  const now = nowSeconds(options.now);
  const given = options.licenseId ?? null;
  if (given !== null) checkNonEmpty(given, "licenseId");
  const productVersion = options.productVersion ?? null;
  if (productVersion !== null) checkNonEmpty(productVersion, "productVersion");
  const nonce = options.nonce ?? randomBytes(NONCE_BYTES);
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) throw new TypeError(`nonce must be ${NONCE_BYTES} bytes`);
  const text = options.licenseText ?? null;
  const fromText = text === null ? null : licenseFacts(text).id;
  if (fromText !== null && given !== null && fromText !== given) {
    throw new RangeError(`licenseId ${JSON.stringify(given)} is not the license text's id ${JSON.stringify(fromText)}`);
  }
  const licenseId = fromText ?? given;
  if (licenseId === null) {
    throw new TypeError("activationRequest needs the license to bind: give licenseText (or licenseId)");
  }
  const header = { alg: "EdDSA", typ: ACTIVATION_TYP, jwk: { kty: "OKP", crv: "Ed25519", x: key.publicJwk.x } };
  const claims: Record<string, unknown> = { ver: 1, iat: now, installation_id: installationId, license_id: licenseId };
  if (productVersion !== null) claims["product_version"] = productVersion;
  claims["nonce"] = b64url(nonce);
  return armor(key.signCompact(header, claims), ACTIVATION_LABEL);
}

// --- 2. the usage log and its reports --------------------------------------------------------------

/** What a usage report says: usageReport's fields. Times are POSIX seconds, each the start of a UTC day. */
export interface UsageReportFields {
  readonly licenseId: string;
  readonly installationId: string;
  /** 1 for the installation's first report, then one more each time. */
  readonly seq: number;
  /** The previous report's digest (reportDigest); null for seq 1. */
  readonly prev: string | null;
  readonly periodStart: number;
  readonly periodEnd: number;
  /** [day start, highest count of active users], ascending, inside the period. */
  readonly daily: readonly (readonly [number, number])[];
  /** The report's iat: a Date or POSIX seconds. Default: the clock. */
  readonly now?: Date | number;
}

function isDigest(value: unknown): value is string {
  return typeof value === "string" && value.length === 43 && b64urlDecode(value)?.length === 32;
}

/**
 * A usage report (`LICENSE USAGE REPORT`), armored and signed by the installation key: what
 * UsageLog.export writes, for a product that keeps its own record (Python's usage_report). Throws
 * RangeError when the fields do not hold together (a day outside the period or out of order, a
 * count below 0, prev missing after seq 1 or present on it), TypeError for a value of another type.
 */
export function usageReport(key: InstallationKey, fields: UsageReportFields): string {
  checkKey(key);
  if (typeof fields !== "object" || fields === null) throw new TypeError("fields must be an object");
  checkNonEmpty(fields.licenseId, "licenseId");
  checkId(fields.installationId, "installationId");
  const { seq, prev, periodStart: start, periodEnd: end, daily } = fields;
  if (!isCount(seq, 1)) throw new RangeError(`seq must be a whole number, 1 or more, not ${String(seq)}`);
  if (seq === 1 ? prev !== null && prev !== undefined : !isDigest(prev)) {
    throw new RangeError(
      seq === 1 ? "the first report (seq 1) has no prev" : "a report after the first needs prev, the last report's digest (reportDigest)",
    );
  }
  for (const [name, value] of [["periodStart", start], ["periodEnd", end]] as const) {
    if (!isDayStart(value) || value > MAX_TIME) throw new RangeError(`${name} must be the start of a UTC day in POSIX seconds, not ${String(value)}`);
  }
  if (end < start) throw new RangeError("periodEnd is before periodStart");
  if (!Array.isArray(daily)) throw new TypeError("daily must be an array of [day start, count] pairs");
  let pairs = ""; // the daily array's JSON, written here: a year is 365 pairs, JSON.stringify's slowest part
  let last = start - 1;
  let peak = 0;
  for (const entry of daily as readonly (readonly [unknown, unknown])[]) {
    const [day, users] = Array.isArray(entry) && entry.length === 2 ? entry : [undefined, undefined];
    if (!isDayStart(day) || day <= last || day >= end) {
      throw new RangeError(`daily must hold ascending day starts inside the period, not ${String(day)}`);
    }
    if (!isCount(users, 0)) throw new RangeError(`daily counts must be whole numbers, 0 or more, not ${String(users)}`);
    pairs += `${pairs === "" ? "[" : ",["}${day},${users}]`;
    last = day;
    if (users > peak) peak = users;
  }
  const claims: Record<string, unknown> = {
    ver: 1,
    iat: nowSeconds(fields.now),
    license_id: fields.licenseId,
    installation_id: fields.installationId,
    seq,
  };
  if (seq !== 1) claims["prev"] = prev;
  claims["period"] = { start, end };
  claims["peak_users"] = peak;
  const json = `${JSON.stringify(claims).slice(0, -1)},"daily":[${pairs}]}`; // keys in the contract's order
  return armor(key.signCompact({ alg: "EdDSA", typ: USAGE_REPORT.typ, kid: key.thumbprint }, json), REPORT_LABEL);
}

// The log file's format is Python's (licensing/airgap/log.py), so that either library reads the other's:
// {"format": "licensing-usage-log", "version": 1, "key": <thumbprint>, "days": [[day, users], ...],
//  "last_report": null | {"seq", "digest", "period_end", "report": <the armored report>}}
const LOG_FORMAT = "licensing-usage-log";
const LOG_VERSION = 1;

interface LastReport {
  readonly seq: number;
  readonly digest: string;
  readonly end: number;
  readonly report: string; // armored
}

interface LogState {
  readonly days: ReadonlyMap<number, number>;
  readonly last: LastReport | null;
}

export interface UsageLogOptions {
  /**
   * This installation's id, for a license not bound to an installation yet (a report may cover
   * days before the activation). A bound license's own `installation_id` is used otherwise.
   */
  installationId?: string | null;
}

function isCount(value: unknown, min: number): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= min;
}

function isDayStart(value: unknown): value is number {
  return isCount(value, 0) && value % DAY === 0;
}

function badLog(path: string, what: string): AirgapError {
  return new AirgapError("bad_log", `The usage log ${path} is damaged (${what}). Restore it from a backup.`);
}

function parseLog(path: string, data: Buffer, thumbprint: string): LogState {
  if (data.length > MAX_LOG_BYTES) throw badLog(path, "far too large");
  const text = decodeUtf8(data);
  let document: unknown;
  try {
    document = text === undefined ? undefined : (JSON.parse(text) as unknown);
  } catch {
    document = undefined;
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) throw badLog(path, "not JSON");
  const d = document as Record<string, unknown>;
  if (d["format"] !== LOG_FORMAT) throw badLog(path, "it is not a usage log");
  if (d["version"] !== LOG_VERSION) throw badLog(path, `version ${JSON.stringify(d["version"])} is not one this library reads`);
  if (d["key"] !== thumbprint) {
    throw new AirgapError(
      "other_key",
      `The usage log ${path} belongs to installation key ${JSON.stringify(d["key"])}, not to this one (${thumbprint}). ` +
        "Use that key, or another file for this one.",
    );
  }
  let last: LastReport | null = null;
  const lastValue = d["last_report"];
  if (lastValue !== null && lastValue !== undefined) {
    if (typeof lastValue !== "object" || Array.isArray(lastValue)) throw badLog(path, "its last report is not an object");
    const l = lastValue as Record<string, unknown>;
    const [seq, digest, end, report] = [l["seq"], l["digest"], l["period_end"], l["report"]];
    if (!isCount(seq, 1) || !isDigest(digest)) throw badLog(path, "its last report's seq or digest is wrong");
    if (!isDayStart(end) || end > MAX_TIME + 1) throw badLog(path, "its last report's period is wrong");
    if (typeof report !== "string") throw badLog(path, "its last report is missing");
    let matches: boolean;
    try {
      matches = reportDigest(report) === digest;
    } catch {
      matches = false;
    }
    if (!matches) throw badLog(path, "its last report does not match its digest");
    last = { seq, digest, end, report };
  }
  const days = new Map<number, number>();
  const daysValue = d["days"];
  if (!Array.isArray(daysValue)) throw badLog(path, "its days are missing");
  for (const [index, entry] of (daysValue as unknown[]).entries()) {
    if (!Array.isArray(entry) || entry.length !== 2 || !isDayStart(entry[0]) || entry[0] > MAX_TIME || !isCount(entry[1], 0) || days.has(entry[0])) {
      throw badLog(path, `day ${index + 1} of its days is not [day start, users]`);
    }
    days.set(entry[0], entry[1]);
  }
  if (last !== null && [...days.keys()].some((day) => day < last.end)) throw badLog(path, "it holds days the last report already covered");
  return { days, last };
}

/** Write the whole file anew beside it, then rename it into place: a crash leaves the old file or the new. */
function writeAtomically(path: string, text: string): void {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(temporary, "wx", 0o600);
  try {
    try {
      fchmodSync(fd, 0o600);
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // already renamed or never written: nothing to clean
    }
    throw error;
  }
  try {
    const dir = openSync(dirname(path), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // a directory that cannot be synced (some file systems): the rename stands anyway
  }
}

function unarmorReport(report: string): string {
  return armorBody(report, USAGE_REPORT).replace(ASCII_WHITESPACE, "");
}

function isoDay(day: number): string {
  return seconds(day).toISOString().slice(0, 10);
}

/**
 * The installation's local record of active users, kept in one JSON file (mode 0600, replaced
 * atomically on every change, so it survives restarts and crashes): the highest count of each UTC
 * day not yet reported, and the last report (its seq, digest, period end and text, for the chain),
 * in the format of Python's UsageLog, so that either library reads the other's file. One process
 * at a time may hold a log open.
 */
export class UsageLog {
  readonly path: string;
  readonly #key: InstallationKey;
  /** The id of the license the reports name (license_id). */
  readonly licenseId: string;
  /** The installation the reports name (installation_id). */
  readonly installationId: string;
  #state: LogState;

  private constructor(path: string, key: InstallationKey, licenseId: string, installationId: string, state: LogState) {
    this.path = path;
    this.#key = key;
    this.licenseId = licenseId;
    this.installationId = installationId;
    this.#state = state;
  }

  /**
   * Open the log at path (created, empty, when there is none), for the installation key and the
   * license installed now (its text, read unverified, or a verified License): the reports name its
   * id and its installation. Throws AirgapError: bad_log for a damaged file, other_key for a log
   * of another key or a license bound (cnf) to another key.
   */
  static open(
    path: string,
    key: InstallationKey,
    license: string | Uint8Array | License,
    options: UsageLogOptions = {},
  ): UsageLog {
    if (typeof path !== "string" || path === "") throw new TypeError("path must be a file name");
    checkKey(key);
    const facts = licenseFacts(license);
    const given = options.installationId ?? null;
    if (given !== null) checkId(given, "installationId");
    if (facts.installationId !== null && given !== null && facts.installationId !== given) {
      throw new RangeError(
        `installationId ${JSON.stringify(given)} is not the one the license is bound to (${JSON.stringify(facts.installationId)})`,
      );
    }
    const installationId = facts.installationId ?? given;
    if (installationId === null) {
      throw new TypeError("the license is bound to no installation: give options.installationId");
    }
    if (facts.cnfJkt !== null && facts.cnfJkt !== key.thumbprint) {
      throw new AirgapError(
        "other_key",
        `License ${facts.id} is bound to installation key ${facts.cnfJkt}, not to this one (${key.thumbprint}).`,
      );
    }
    let data: Buffer | undefined;
    try {
      data = readFileSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const log = new UsageLog(
      path,
      key,
      facts.id,
      installationId,
      data === undefined ? { days: new Map(), last: null } : parseLog(path, data, key.thumbprint),
    );
    if (data === undefined) log.#save(log.#state);
    return log;
  }

  /** The seq of the last report exported (0: none yet). */
  get seq(): number {
    return this.#state.last?.seq ?? 0;
  }

  /** The last report exported, armored (to send it again), or null. */
  get lastReport(): string | null {
    return this.#state.last?.report ?? null;
  }

  /** The digest of the last report (what its receipt's `report` must be: verifyReceipt's reportDigest), or null. */
  get lastDigest(): string | null {
    return this.#state.last?.digest ?? null;
  }

  /** The first UTC day not reported yet (the end of the last report's period), or null before the first report. */
  get reportedUntil(): Date | null {
    const last = this.#state.last;
    return last === null ? null : seconds(last.end);
  }

  /** The days recorded and not reported yet, ascending: [day start (POSIX seconds), highest count]. */
  pending(): [number, number][] {
    return [...this.#state.days.entries()].sort((a, b) => a[0] - b[0]);
  }

  /**
   * Record the number of active users at a time (a Date or POSIX seconds; default now): the log
   * keeps the highest count of each UTC day. A day a report already covers is refused (AirgapError,
   * already_reported): reports never go back.
   */
  record(activeUsers: number, at?: Date | number): void {
    if (typeof activeUsers !== "number") throw new TypeError("activeUsers must be a number");
    if (!Number.isSafeInteger(activeUsers) || activeUsers < 0) {
      throw new RangeError(`activeUsers must be a whole number, 0 or more, not ${activeUsers}`);
    }
    const day = Math.floor(nowSeconds(at) / DAY) * DAY;
    const state = this.#state;
    if (state.last !== null && day < state.last.end) {
      throw new AirgapError(
        "already_reported",
        `${isoDay(day)} was already reported (report ${state.last.seq} covers the days before ${isoDay(state.last.end)}): ` +
          "a count for it can no longer be recorded.",
      );
    }
    const known = state.days.get(day);
    if (known !== undefined && known >= activeUsers) return;
    const days = new Map(state.days);
    days.set(day, activeUsers);
    this.#save({ days, last: state.last });
  }

  /**
   * The next usage report (`LICENSE USAGE REPORT`), armored and signed by the installation key: the
   * days recorded and not yet reported up to and including the UTC day of `until` (a Date or POSIX
   * seconds; default now), chained to the last report (seq + 1, prev = its digest). The log keeps it
   * (lastReport) and forgets the days it covers. Throws AirgapError (already_reported) when until's
   * day is already reported: a second export the same day (nothing new to carry; lastReport gives the
   * report again) or a day before the last report's period ends (reports never go back), as in Python
   * and Go; RangeError for an until in the future (a report covers days that have begun). `now` (default: the clock) is the report's iat.
   */
  export(until?: Date | number, options: { now?: Date | number } = {}): string {
    const untilSeconds = nowSeconds(until);
    if (untilSeconds > Math.floor(Date.now() / 1000) + FUTURE_LEEWAY_SECONDS) {
      throw new RangeError(`until (${isoDay(untilSeconds)}) is in the future: a report covers days that have begun`);
    }
    const untilDay = Math.floor(untilSeconds / DAY) * DAY;
    const iat = nowSeconds(options.now);
    const end = untilDay + DAY;
    const state = this.#state;
    const last = state.last;
    if (last !== null && end < last.end) {
      throw new AirgapError(
        "already_reported",
        `${isoDay(untilDay)} is before the end of report ${last.seq}'s period (${isoDay(last.end)}): reports never go back.`,
      );
    }
    if (last !== null && end === last.end) {
      throw new AirgapError(
        "already_reported",
        `${isoDay(untilDay)} is reported already (report ${last.seq}): nothing new to report until the next UTC day; lastReport gives that report again.`,
      );
    }
    const daily = this.pending().filter(([day]) => day < end);
    const start = last !== null ? last.end : (daily[0]?.[0] ?? untilDay);
    const seq = last === null ? 1 : last.seq + 1;
    const report = usageReport(this.#key, {
      licenseId: this.licenseId,
      installationId: this.installationId,
      seq,
      prev: last === null ? null : last.digest,
      periodStart: start,
      periodEnd: end,
      daily,
      now: iat,
    });
    const days = new Map(state.days);
    for (const [day] of daily) days.delete(day);
    this.#save({ days, last: { seq, digest: digestOf(unarmorReport(report)), end, report } });
    return report;
  }

  #save(state: LogState): void {
    const last = state.last;
    const document = {
      format: LOG_FORMAT,
      version: LOG_VERSION,
      key: this.#key.thumbprint,
      days: [...state.days.entries()].sort((a, b) => a[0] - b[0]),
      last_report: last === null ? null : { seq: last.seq, digest: last.digest, period_end: last.end, report: last.report },
    };
    writeAtomically(this.path, JSON.stringify(document));
    this.#state = state; // only once it is on disk
  }
}

// --- 3. the usage receipt --------------------------------------------------------------------------

/** A verified usage receipt: the vendor's acknowledgement of one usage report. */
export class Receipt {
  readonly issuer: string;
  readonly issuedAt: Date;
  readonly installationId: string;
  readonly licenseId: string;
  readonly seq: number;
  /** The digest of the report acknowledged (reportDigest of it). */
  readonly report: string;
  readonly peakUsers: number;
  /** The seats licensed when the report arrived; null: unlimited. */
  readonly seats: number | null;
  /** max(0, peakUsers - seats); 0 for unlimited seats. */
  readonly overage: number;
  /** The report's seq did not follow the last one the vendor holds (reports in between never arrived). */
  readonly gap: boolean;
  readonly keyId: string;

  /** @internal Use verifyReceipt. */
  constructor(fields: Receipt) {
    this.issuer = fields.issuer;
    this.issuedAt = fields.issuedAt;
    this.installationId = fields.installationId;
    this.licenseId = fields.licenseId;
    this.seq = fields.seq;
    this.report = fields.report;
    this.peakUsers = fields.peakUsers;
    this.seats = fields.seats;
    this.overage = fields.overage;
    this.gap = fields.gap;
    this.keyId = fields.keyId;
  }
}

export interface VerifyReceiptOptions {
  /** The digest of the report this installation sent (UsageLog.lastDigest): a receipt for another is refused. */
  reportDigest?: string | null;
}

function count(claims: JsonObject, name: string, min: number): number {
  const value = wholeNumber(entryOf(claims, name));
  if (value === undefined || value < min) {
    throw new LicenseError("malformed", `The usage receipt's "${name}" must be a whole number, ${min} or more.`);
  }
  return saturate(value);
}

/**
 * Verify a usage receipt (`LICENSE USAGE RECEIPT`, armored or a bare JWS) signed by a key of the
 * keyring, as verify() checks a license file; throws LicenseError with the verifier's codes
 * (malformed, unsupported, unknown_key, bad_signature). Given reportDigest, a receipt for another
 * report is refused (malformed).
 */
export function verifyReceipt(text: string | Uint8Array, keyring: Keyring, options: VerifyReceiptOptions = {}): Receipt {
  checkKeyring(keyring);
  const expected = options.reportDigest ?? null;
  if (expected !== null && typeof expected !== "string") throw new TypeError("reportDigest must be a string");
  return guarded("usage receipt", () => {
    const what = "usage receipt";
    const { claims, kid } = decodeJws(text, keyring, USAGE_RECEIPT);
    const issuer = nonEmptyString(claims, "iss", what);
    const iat = numericDate(claims, "iat", what);
    const installationId = entryOf(claims, "installation_id");
    if (!isInstallationId(installationId)) {
      throw new LicenseError("malformed", `The usage receipt's "installation_id" must be 1 to ${MAX_ID_CHARS} printable characters.`);
    }
    const licenseId = nonEmptyString(claims, "license_id", what);
    const seq = count(claims, "seq", 1);
    const report = nonEmptyString(claims, "report", what);
    if (b64urlDecode(report)?.length !== 32) {
      throw new LicenseError("malformed", 'The usage receipt\'s "report" is not the digest of a report (SHA-256, base64url).');
    }
    const peakUsers = count(claims, "peak_users", 0);
    const seatsValue = entryOf(claims, "seats");
    const seats = seatsValue === null ? null : count(claims, "seats", 1);
    const overage = count(claims, "overage", 0);
    if (overage !== (seats === null ? 0 : Math.max(0, peakUsers - seats))) {
      throw new LicenseError("malformed", 'The usage receipt\'s "overage" must be max(0, peak_users - seats), 0 for unlimited seats.');
    }
    const gap = entryOf(claims, "gap");
    if (typeof gap !== "boolean") throw new LicenseError("malformed", 'The usage receipt\'s "gap" must be true or false.');
    if (expected !== null && report !== expected) {
      throw new LicenseError(
        "malformed",
        `The usage receipt is for another usage report (seq ${seq}, digest ${report}), not for the one sent ` +
          `(digest ${expected}). Upload that report again to get its receipt.`,
      );
    }
    return new Receipt({
      issuer,
      issuedAt: seconds(iat),
      installationId,
      licenseId,
      seq,
      report,
      peakUsers,
      seats,
      overage,
      gap,
      keyId: kid,
    });
  });
}

// --- comparing licenses ----------------------------------------------------------------------------

/** One difference between two licenses; old and new as the license claims hold them (times: POSIX seconds). */
export type Change =
  | { readonly field: "tier"; readonly old: string; readonly new: string }
  | { readonly field: "trial"; readonly old: boolean; readonly new: boolean }
  | { readonly field: "seats"; readonly old: number | null; readonly new: number | null }
  | { readonly field: "features"; readonly added: readonly string[]; readonly removed: readonly string[] }
  | { readonly field: "not_before"; readonly old: number; readonly new: number }
  | { readonly field: "expires_at"; readonly old: number | null; readonly new: number | null }
  | { readonly field: "grace_days"; readonly old: number; readonly new: number }
  | { readonly field: "installation_id"; readonly old: string | null; readonly new: string | null }
  | { readonly field: "cnf_jkt"; readonly old: string | null; readonly new: string | null };

/** Why installing NEW may be a mistake. */
export interface ComparisonWarning {
  readonly code: "issued_before" | "other_customer" | "other_line" | "same_license";
}

/** What installing NEW in place of OLD changes: changes, warnings, and a line each (warnings first). */
export class Comparison {
  readonly changes: readonly Change[];
  readonly warnings: readonly ComparisonWarning[];
  /** One line per warning, then one per change (two for features); ["no changes"] when there is nothing. */
  readonly lines: readonly string[];

  /** @internal Use compare. */
  constructor(changes: Change[], warnings: ComparisonWarning[], lines: string[]) {
    this.changes = Object.freeze(changes.map((c) => Object.freeze(c)));
    this.warnings = Object.freeze(warnings.map((w) => Object.freeze(w)));
    this.lines = Object.freeze(lines);
  }

  toString(): string {
    return this.lines.join("\n");
  }
}

function posix(date: Date | null): number | null {
  return date === null ? null : Math.floor(date.getTime() / 1000);
}

function rfc3339(value: number | null, none: string): string {
  if (value === null) return none;
  const date = seconds(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Sorted by code point, as Python sorts strings (not by UTF-16 unit, as Array.prototype.sort does). */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] as string).codePointAt(0)! - (y[i] as string).codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * What installing newLicense in place of oldLicense changes, from two verified licenses: tier,
 * trial, seats, features added and removed, dates, grace, binding; and warnings when NEW was issued
 * before OLD, belongs to another customer, or is of another line without superseding OLD (or is OLD
 * itself). String(comparison) reads as lines, warnings first, the same in Python, Go and TypeScript.
 */
export function compare(oldLicense: License, newLicense: License): Comparison {
  if (!(oldLicense instanceof License) || !(newLicense instanceof License)) {
    throw new TypeError("compare takes two Licenses from verify()");
  }
  const o = oldLicense;
  const n = newLicense;
  const warnings: ComparisonWarning[] = [];
  const lines: string[] = [];
  if (n.id === o.id) {
    warnings.push({ code: "same_license" });
    lines.push("warning: NEW is the same license as OLD");
  } else {
    if (n.issuedAt.getTime() < o.issuedAt.getTime()) {
      warnings.push({ code: "issued_before" });
      lines.push("warning: NEW was issued before OLD");
    }
    if (n.subject !== o.subject) {
      warnings.push({ code: "other_customer" });
      lines.push(`warning: NEW belongs to another customer (${n.subject}, not ${o.subject})`);
    }
    if (n.supersedes !== o.id) {
      warnings.push({ code: "other_line" });
      lines.push("warning: NEW does not supersede OLD: it may belong to another line");
    }
  }
  const changes: Change[] = [];
  const seatsText = (v: number | null): string => (v === null ? "unlimited" : String(v));
  if (o.tier !== n.tier) {
    changes.push({ field: "tier", old: o.tier, new: n.tier });
    lines.push(`tier: ${o.tier} -> ${n.tier}`);
  }
  if (o.trial !== n.trial) {
    changes.push({ field: "trial", old: o.trial, new: n.trial });
    lines.push(`trial: ${String(o.trial)} -> ${String(n.trial)}`);
  }
  if (o.seats !== n.seats) {
    changes.push({ field: "seats", old: o.seats, new: n.seats });
    lines.push(`seats: ${seatsText(o.seats)} -> ${seatsText(n.seats)}`);
  }
  const before = new Set(o.features);
  const after = new Set(n.features);
  const added = [...after].filter((f) => !before.has(f)).sort(byCodePoint);
  const removed = [...before].filter((f) => !after.has(f)).sort(byCodePoint);
  if (added.length > 0 || removed.length > 0) {
    changes.push({ field: "features", added, removed });
    if (added.length > 0) lines.push(`features added: ${added.join(", ")}`);
    if (removed.length > 0) lines.push(`features removed: ${removed.join(", ")}`);
  }
  const nbf = [posix(o.notBefore) as number, posix(n.notBefore) as number] as const;
  if (nbf[0] !== nbf[1]) {
    changes.push({ field: "not_before", old: nbf[0], new: nbf[1] });
    lines.push(`valid from: ${rfc3339(nbf[0], "")} -> ${rfc3339(nbf[1], "")}`);
  }
  const exp = [posix(o.expiresAt), posix(n.expiresAt)] as const;
  if (exp[0] !== exp[1]) {
    changes.push({ field: "expires_at", old: exp[0], new: exp[1] });
    lines.push(`expires: ${rfc3339(exp[0], "never")} -> ${rfc3339(exp[1], "never")}`);
  }
  if (o.graceDays !== n.graceDays) {
    changes.push({ field: "grace_days", old: o.graceDays, new: n.graceDays });
    lines.push(`grace days: ${o.graceDays} -> ${n.graceDays}`);
  }
  if (o.installationId !== n.installationId) {
    changes.push({ field: "installation_id", old: o.installationId, new: n.installationId });
    lines.push(`installation: ${o.installationId ?? "none"} -> ${n.installationId ?? "none"}`);
  }
  if (o.cnfJkt !== n.cnfJkt) {
    changes.push({ field: "cnf_jkt", old: o.cnfJkt, new: n.cnfJkt });
    lines.push(`installation key: ${o.cnfJkt ?? "none"} -> ${n.cnfJkt ?? "none"}`);
  }
  if (lines.length === 0) lines.push("no changes");
  return new Comparison(changes, warnings, lines);
}
