// Rules the vectors cannot express: the API itself, messages, the system clock, programming errors,
// speed, and that no input makes anything but a LicenseError escape (a seeded random search).

import assert from "node:assert/strict";
import { generateKeyPairSync, sign as cryptoSign } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import {
  ERROR_CODES,
  KeyringError,
  License,
  LicenseError,
  RevocationList,
  jwkThumbprint,
  loadRevocations,
  parseKeyring,
  unarmor,
  verify,
} from "licensing-verifier";
import { JsonFloat, parseJson } from "../src/json.js";

const VECTORS =
  process.env["LICENSING_VECTORS"] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "tests", "vectors");

// The signing key of these tests, made for each run: no private key is committed. What the vectors'
// key signed is checked with its public half only (tests/vectors/jwks.json).
const { privateKey: PRIVATE_KEY, publicKey: PUBLIC_KEY } = generateKeyPairSync("ed25519");
const X = PUBLIC_KEY.export({ format: "jwk" }).x as string;
const KID = jwkThumbprint(X);
const KEYRING = parseKeyring({ keys: [{ kty: "OKP", crv: "Ed25519", x: X }] });
const DAY = 86_400;
const NOW = 1_749_945_600; // 2025-06-15T00:00:00Z

const b64 = (data: Uint8Array | string): string => Buffer.from(data).toString("base64url");

function signRaw(header: string | Uint8Array, payload: string | Uint8Array): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${b64(cryptoSign(null, Buffer.from(input), PRIVATE_KEY))}`;
}

function armor(compact: string, label = "LICENSE FILE"): string {
  const lines = compact.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function claims(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    iss: "test-issuer",
    jti: "lic_0001",
    sub: "cus_0001",
    ver: 1,
    iat: NOW - 30 * DAY,
    nbf: NOW - 30 * DAY,
    exp: NOW + 335 * DAY,
    tier: "professional",
    trial: false,
    seats: 250,
    features: ["custom_branding", "ldap", "saml"],
    grace_days: 10,
    customer: { name: "Ada Lovelace", email: "ada@example.com", company: "Example Ltd" },
  };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

function signLicense(c: Record<string, unknown>): string {
  return armor(signRaw(JSON.stringify({ alg: "EdDSA", typ: "license+jwt", kid: KID }), JSON.stringify(c)));
}

function signRevocations(c: Record<string, unknown>): string {
  const header = JSON.stringify({ alg: "EdDSA", typ: "license-revocations+jwt", kid: KID });
  return armor(signRaw(header, JSON.stringify(c)), "LICENSE REVOCATIONS");
}

function rejected(read: () => unknown): LicenseError {
  try {
    read();
  } catch (error) {
    assert.ok(error instanceof LicenseError, `not a LicenseError: ${String(error)}`);
    assert.ok(ERROR_CODES.includes(error.code));
    assert.equal(error.cause, undefined, `the safety net caught ${String(error.cause)}`);
    return error;
  }
  assert.fail("accepted");
}

test("a license's fields", () => {
  const text = signLicense(
    claims({ installation_id: "inst-1", subscription_id: "sub_1", supersedes: "lic_older", trial: true, future: [1, 2.5, "x"] }),
  );
  const lic = verify(text, KEYRING, { now: NOW, installationId: "inst-1" });
  assert.ok(lic instanceof License);
  assert.equal(lic.status, "valid");
  assert.equal(lic.id, "lic_0001");
  assert.equal(lic.issuer, "test-issuer");
  assert.equal(lic.subject, "cus_0001");
  assert.equal(lic.tier, "professional");
  assert.equal(lic.trial, true);
  assert.equal(lic.seats, 250);
  assert.deepEqual(lic.features, ["custom_branding", "ldap", "saml"]);
  assert.equal(lic.graceDays, 10);
  assert.deepEqual({ ...lic.customer }, { name: "Ada Lovelace", email: "ada@example.com", company: "Example Ltd" });
  assert.equal(lic.installationId, "inst-1");
  assert.equal(lic.subscriptionId, "sub_1");
  assert.equal(lic.supersedes, "lic_older");
  assert.equal(lic.keyId, KID);
  assert.equal(lic.issuedAt.getTime(), (NOW - 30 * DAY) * 1000);
  assert.equal(lic.expiresAt?.getTime(), (NOW + 335 * DAY) * 1000);
  assert.equal(lic.graceEndsAt?.getTime(), (NOW + 345 * DAY) * 1000);
  assert.ok(lic.hasFeature("saml") && !lic.hasFeature("SAML") && !lic.hasFeature("cluster") && !lic.hasFeature(""));
  assert.deepEqual(lic.claims["future"], [1, 2.5, "x"]);
  assert.ok(Object.isFrozen(lic.features));
});

test("a perpetual license with unlimited seats", () => {
  const lic = verify(signLicense(claims({ exp: undefined, seats: null, tier: "free" })), KEYRING, { now: new Date("9999-12-31T23:59:59Z") });
  assert.equal(lic.seats, null);
  assert.equal(lic.expiresAt, null);
  assert.equal(lic.graceEndsAt, null);
});

test("messages say what to do", () => {
  const bound = signLicense(claims({ installation_id: "inst-1" }));
  let e = rejected(() => verify(bound, KEYRING, { now: NOW }));
  assert.equal(e.code, "installation_mismatch");
  assert.match(e.message, /"inst-1".*no installation id was given.*Pass this installation's id/);
  e = rejected(() => verify(bound, KEYRING, { now: NOW, installationId: "inst-2" }));
  assert.match(e.message, /"inst-2"/);
  e = rejected(() => verify(signLicense(claims()), KEYRING, { now: NOW + 400 * DAY }));
  assert.equal(e.code, "expired");
  assert.match(e.message, /10-day grace/);
  assert.ok(e.message.includes(new Date((NOW + 335 * DAY) * 1000).toISOString().slice(0, 10)));
  e = rejected(() => verify(signLicense(claims()), KEYRING, { now: NOW - 365 * DAY }));
  assert.equal(e.code, "clock_skew");
  assert.match(e.message, /clock/);
  const list = signRevocations({ iss: "i", iat: NOW, ver: 1, seq: 3, revoked: [{ jti: "lic_0001", revoked_at: NOW - DAY }] });
  e = rejected(() => verify(list, KEYRING, { now: NOW }));
  assert.equal(e.code, "malformed");
  assert.match(e.message, /license file/);
  e = rejected(() => loadRevocations(signLicense(claims()), KEYRING));
  assert.match(e.message, /revocation list/);
  const forms = [loadRevocations(list, KEYRING), list, new TextEncoder().encode(list), ["x", "lic_0001"], new Set(["lic_0001"])];
  for (const revocations of forms) {
    e = rejected(() => verify(signLicense(claims()), KEYRING, { now: NOW, revocations }));
    assert.equal(e.code, "revoked");
    assert.match(e.message, /lic_0001/);
  }
  assert.equal(e.name, "LicenseError");
  assert.ok(e instanceof Error);
});

test("a bad argument from the program is a TypeError, never a LicenseError", () => {
  const text = signLicense(claims());
  const jwks = { keys: [{ kty: "OKP", crv: "Ed25519", x: X }] };
  assert.throws(() => verify(text, jwks as never, { now: NOW }), TypeError);
  assert.throws(() => loadRevocations(text, null as never), TypeError);
  assert.throws(() => verify(text, KEYRING, { now: "2025-01-01" as never }), TypeError);
  assert.throws(() => verify(text, KEYRING, { now: new Date("nonsense") }), RangeError);
  assert.throws(() => verify(text, KEYRING, { now: NaN }), RangeError);
  assert.throws(() => verify(text, KEYRING, { now: NOW, installationId: 5 as never }), TypeError);
  assert.throws(() => verify(text, KEYRING, { now: NOW, revocations: 5 as never }), TypeError);
  assert.throws(() => verify(text, KEYRING, { now: -1 }), RangeError);
  assert.throws(() => verify(text, KEYRING, { now: 253_402_300_800 }), RangeError);
  assert.throws(() => verify(text, KEYRING, { now: new Date("1969-12-31T23:59:59Z") }), RangeError);
  assert.equal(verify(signLicense(claims({ exp: undefined })), KEYRING, { now: 253_402_300_799.5 }).status, "valid");
  // Text of another type is the license's fault, as in Python.
  for (const value of [null, 42, ["a"], {}]) assert.equal(rejected(() => verify(value as never, KEYRING, { now: NOW })).code, "malformed");
});

test("the system clock by default, and time edges with fractions", () => {
  const now = Math.trunc(Date.now() / 1000);
  assert.equal(verify(signLicense(claims({ iat: now - 60, nbf: now - 60, exp: now + DAY })), KEYRING).status, "valid");
  const old = signLicense(claims({ iat: now - 90 * DAY, nbf: now - 90 * DAY, exp: now - 60 * DAY }));
  assert.equal(rejected(() => verify(old, KEYRING)).code, "expired");
  const nbf = NOW + 30 * DAY;
  const later = signLicense(claims({ iat: NOW, nbf, exp: nbf + 365 * DAY }));
  assert.equal(verify(later, KEYRING, { now: new Date((nbf - 300) * 1000) }).status, "valid");
  assert.equal(rejected(() => verify(later, KEYRING, { now: new Date((nbf - 300) * 1000 - 1) })).code, "not_yet_valid");
  assert.equal(rejected(() => verify(later, KEYRING, { now: nbf - 300.5 })).code, "not_yet_valid");
});

test("revocation lists: accessors and 100,000 entries well under a second", () => {
  const revoked = Array.from({ length: 100_000 }, (_, i) => ({ jti: `lic_${String(i).padStart(8, "0")}`, revoked_at: NOW - i }));
  const text = signRevocations({ iss: "i", iat: NOW, ver: 1, seq: 100_000, revoked });
  const start = performance.now();
  const list = loadRevocations(text, KEYRING);
  const elapsed = performance.now() - start;
  assert.ok(list instanceof RevocationList);
  assert.equal(list.length, 100_000);
  assert.equal(list.seq, 100_000);
  assert.ok(list.has("lic_00099999") && !list.has("lic_x"));
  assert.equal(list.revokedAt("lic_00000002")?.getTime(), (NOW - 2) * 1000);
  assert.equal(list.revokedAt("nope"), undefined);
  assert.equal(list.ids()[0], "lic_00000000");
  assert.equal(list.keyId, KID);
  console.log(`# ${text.length} characters, 100,000 entries: loaded in ${elapsed.toFixed(0)} ms`);
  assert.ok(elapsed < 1000, `${elapsed} ms`);
});

test("keyrings", () => {
  // RFC 8037 appendix A.3: the thumbprint of its example key.
  assert.equal(jwkThumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  assert.deepEqual(KEYRING.keyIds, [KID]);
  const text = JSON.stringify({ keys: [{ kty: "OKP", crv: "Ed25519", x: X, kid: "k" }] });
  assert.deepEqual(parseKeyring(text).keyIds, ["k"]);
  assert.deepEqual(parseKeyring(Buffer.from("\ufeff" + text)).keyIds, ["k"]); // bytes may start with a BOM
  assert.throws(() => parseKeyring("\ufeff" + text), KeyringError); // text may not (Python's json.loads)
  assert.throws(() => parseKeyring(Buffer.from([0xff])), KeyringError);
  assert.throws(() => parseKeyring(null as never), KeyringError);
  assert.throws(() => parseKeyring({ keys: [{ kty: "OKP", crv: "Ed25519", x: 5 }] }), KeyringError);
});

test("unarmor", () => {
  const text = signLicense(claims());
  const compact = text.split("\n").slice(1, -2).join("");
  assert.equal(unarmor(text), compact);
  assert.equal(unarmor(Buffer.from(text.replace(/\n/g, "\r\n"))), compact);
  assert.equal(unarmor("\ufeff" + compact), compact);
});

test("the JSON reader reads what Python's json module reads", () => {
  const read = (text: string): unknown => parseJson(text);
  assert.equal(read("-0"), 0);
  assert.ok(Object.is(read("-0"), 0));
  assert.ok(read("1.0") instanceof JsonFloat);
  assert.ok(read("1e0") instanceof JsonFloat);
  assert.equal(read("9007199254740991"), 9007199254740991);
  assert.equal(read("9007199254740992"), 9007199254740992n);
  assert.equal(read("-" + "1".repeat(4300)), -BigInt("1".repeat(4300)));
  assert.equal(read("1".repeat(4301)), undefined);
  assert.ok((read("NaN") as JsonFloat).value !== (read("NaN") as JsonFloat).value);
  assert.equal((read("-Infinity") as JsonFloat).value, -Infinity);
  for (const refused of ["-NaN", "01", "1.", ".5", "+1", "1e", "[1,]", '{"a":1,}', "'a'", '"\\x41"', '"a\u0001"', "\f1", "", "\ufeff{}"]) {
    assert.equal(read(refused), undefined, JSON.stringify(refused));
  }
  assert.deepEqual({ ...(read('{"a":1,"a":2}') as object) }, { a: 2 });
  const proto = read('{"__proto__":{"x":1}}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(proto), null);
  assert.ok(Object.prototype.hasOwnProperty.call(proto, "__proto__"));
  assert.equal(read('"\\ud800"'), "\ud800");
  assert.equal(read('"\\ud83d\\ude00"'), "😀");
  assert.equal(read('"\\ud800\\u0041"'), "\ud800A");
  assert.equal(read('"\u007f"'), "\u007f");
  assert.notEqual(read("[".repeat(512) + "]".repeat(512)), undefined);
  assert.equal(read("[".repeat(513) + "]".repeat(513)), undefined);
  assert.equal(read("[".repeat(200_000)), undefined);
});

// --- no input makes anything but a LicenseError escape: a seeded random search --------------------

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function outcome(read: () => unknown): void {
  try {
    const result = read();
    if (result instanceof License) {
      assert.ok(result.status === "valid" || result.status === "grace");
      assert.ok(result.seats === null || result.seats >= 1);
    }
  } catch (error) {
    if (!(error instanceof LicenseError)) throw error;
    assert.ok(ERROR_CODES.includes(error.code));
    assert.equal(error.cause, undefined, `the safety net caught ${String(error.cause)}`);
  }
}

test("random changes to every vector file", () => {
  const next = random(20250601);
  // Files only: tests/vectors/airgap/ holds the air-gapped exchanges' own vectors.
  const files = readdirSync(VECTORS, { withFileTypes: true })
    .filter((entry) => entry.isFile() && !/\.(py|md|json)$/.test(entry.name))
    .map((entry) => entry.name);
  const inserts = ["\ufeff", "\u00a0", "\u200b", "é", "\u2028", ".", "=", "-----BEGIN ", "\r\n", "\x00", "😀", "\ud800"];
  let runs = 0;
  for (const name of files) {
    const data = new Uint8Array(readFileSync(join(VECTORS, name)));
    if (data.length > 20_000) continue;
    for (let i = 0; i < 12; i++) {
      const mutated = new Uint8Array(data);
      for (let n = 1 + Math.floor(next() * 3); n > 0; n--) {
        mutated[Math.floor(next() * mutated.length)] = Math.floor(next() * 256);
      }
      const text = Buffer.from(data).toString("utf8");
      const at = Math.floor(next() * text.length);
      const inserted = text.slice(0, at) + (inserts[Math.floor(next() * inserts.length)] as string) + text.slice(at + 1);
      for (const input of [mutated, inserted]) {
        outcome(() => verify(input, KEYRING, { now: 1_748_736_000, installationId: "inst-1" }));
        outcome(() => loadRevocations(input, KEYRING));
        runs++;
      }
    }
  }
  assert.ok(runs > 3000);
});

test("random JSON, signed by a trusted key, reaches the claim checks", () => {
  const next = random(42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const scalars = ["null", "true", "false", "0", "-0", "1", "-1", "1.0", "1e3", "NaN", "-Infinity", "2.5", '""', '"x"', '"\\ud800"',
    "9007199254740993", "253402300799", "253402300800", "1" + "0".repeat(40), "[]", "{}", '"lic_0001"', '{"name":null}'];
  const names = ["iss", "jti", "sub", "ver", "iat", "nbf", "exp", "tier", "trial", "seats", "features", "grace_days", "customer",
    "installation_id", "subscription_id", "supersedes", "seq", "revoked", "x"];
  const base = claims({ installation_id: "inst-1" });
  for (let i = 0; i < 1500; i++) {
    const object: Record<string, string> = {};
    for (const [k, v] of Object.entries(base)) object[k] = JSON.stringify(v);
    for (let n = 1 + Math.floor(next() * 3); n > 0; n--) {
      const value = next() < 0.2 ? `[${pick(scalars)},${pick(scalars)}]` : next() < 0.1 ? `[{"jti":${pick(scalars)},"revoked_at":${pick(scalars)}}]` : pick(scalars);
      object[pick(names)] = value;
    }
    const payload = `{${Object.entries(object).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`;
    const typ = pick(["license+jwt", "license-revocations+jwt", "LICENSE+JWT", "jwt"]);
    const compact = signRaw(JSON.stringify({ alg: pick(["EdDSA", "Ed25519", "none"]), typ, kid: KID }), payload);
    outcome(() => verify(compact, KEYRING, { now: NOW, installationId: "inst-1" }));
    outcome(() => loadRevocations(compact, KEYRING));
  }
});
