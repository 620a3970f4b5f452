// The air-gapped exchanges (SPEC section 8) against the built package: the installation key, activation
// requests, the usage log and its chained reports (restarts, tampering), receipts, comparing licenses,
// and that no input makes anything but the documented errors escape (a seeded random search).

import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { inspect } from "node:util";

import {
  AIRGAP_ERROR_CODES,
  AirgapError,
  Comparison,
  ERROR_CODES,
  InstallationKey,
  LicenseError,
  Receipt,
  UsageLog,
  activationRequest,
  compare,
  jwkThumbprint,
  newInstallationKey,
  parseKeyring,
  reportDigest,
  unarmor,
  usageReport,
  verify,
  verifyReceipt,
  type License,
} from "licensing-verifier";

// The service's signing key in these tests, made for each run: no private key is committed.
const { privateKey: SERVICE_KEY, publicKey: SERVICE_PUBLIC } = generateKeyPairSync("ed25519");
const X = SERVICE_PUBLIC.export({ format: "jwk" }).x as string;
const KID = jwkThumbprint(X);
const KEYRING = parseKeyring({ keys: [{ kty: "OKP", crv: "Ed25519", x: X }] });
const DAY = 86_400;
const JUNE_1 = 1_748_736_000; // 2025-06-01T00:00:00Z

const TMP = mkdtempSync(join(tmpdir(), "airgap-test-"));
after(() => rmSync(TMP, { recursive: true, force: true }));
let files = 0;
const tmpFile = (name = "usage.json"): string => {
  const dir = join(TMP, String(files++));
  mkdirSync(dir);
  return join(dir, name);
};

const b64 = (data: Uint8Array | string): string => Buffer.from(data).toString("base64url");

function signRaw(header: string | Uint8Array, payload: string | Uint8Array, key = SERVICE_KEY): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${b64(cryptoSign(null, Buffer.from(input), key))}`;
}

function armor(compact: string, label: string): string {
  return `-----BEGIN ${label}-----\n${(compact.match(/.{1,64}/g) ?? []).join("\n")}\n-----END ${label}-----\n`;
}

function licenseClaims(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    iss: "test-issuer",
    jti: "lic_0001",
    sub: "cus_0001",
    ver: 1,
    iat: JUNE_1,
    nbf: JUNE_1,
    exp: JUNE_1 + 365 * DAY,
    tier: "professional",
    trial: false,
    seats: 10,
    features: ["ldap", "saml"],
    grace_days: 10,
    customer: { name: "Ada Lovelace", email: "ada@example.com", company: "Example Ltd" },
  };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

function signLicense(claims: Record<string, unknown>): string {
  return armor(signRaw(JSON.stringify({ alg: "EdDSA", kid: KID, typ: "license+jwt" }), JSON.stringify(claims)), "LICENSE FILE");
}

function verified(changes: Record<string, unknown> = {}): License {
  const claims = licenseClaims(changes);
  return verify(signLicense(claims), KEYRING, { now: JUNE_1 + 60 * DAY, installationId: (claims["installation_id"] as string) ?? null });
}

function receiptClaims(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    ver: 1,
    iss: "test-issuer",
    iat: JUNE_1 + 40 * DAY,
    installation_id: "inst-1",
    license_id: "lic_0002",
    seq: 1,
    report: b64(createHash("sha256").update("a report").digest()),
    peak_users: 14,
    seats: 10,
    overage: 4,
    gap: false,
  };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

const RECEIPT_HEADER = { alg: "EdDSA", kid: KID, typ: "license-usage-receipt+jwt" };

function signReceipt(claims: Record<string, unknown>, header: Record<string, unknown> = RECEIPT_HEADER): string {
  return armor(signRaw(JSON.stringify(header), JSON.stringify(claims)), "LICENSE USAGE RECEIPT");
}

/** The header, claims and signature check of an install-signed file, read by hand. */
function decode(text: string, label: string): { header: string; claims: string; signed: Buffer; signature: Buffer } {
  assert.ok(text.startsWith(`-----BEGIN ${label}-----\n`) && text.endsWith(`\n-----END ${label}-----\n`));
  const lines = text.trimEnd().split("\n").slice(1, -1);
  assert.ok(lines.every((line, i) => line.length === 64 || (i === lines.length - 1 && line.length <= 64)));
  const compact = lines.join("");
  const [h, c, s] = compact.split(".") as [string, string, string];
  return {
    header: Buffer.from(h, "base64url").toString("utf8"),
    claims: Buffer.from(c, "base64url").toString("utf8"),
    signed: Buffer.from(`${h}.${c}`),
    signature: Buffer.from(s, "base64url"),
  };
}

function publicKeyOf(key: InstallationKey) {
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: key.publicJwk.x }, format: "jwk" });
}

function refused<T extends Error>(kind: new (...args: never[]) => T, run: () => unknown): T {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof kind, `not a ${kind.name}: ${String(error)}`);
    return error;
  }
  assert.fail("accepted");
}

// --- the installation key --------------------------------------------------------------------------

test("an installation key: made, written as PKCS#8 PEM, read back, the same thumbprint", () => {
  const key = newInstallationKey();
  const pem = key.privatePem();
  assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
  const again = InstallationKey.fromPem(pem);
  assert.equal(again.thumbprint, key.thumbprint);
  assert.deepEqual(again.publicJwk, key.publicJwk);
  assert.equal(InstallationKey.fromPem(Buffer.from(pem)).thumbprint, key.thumbprint);
  assert.deepEqual(Object.keys(key.publicJwk), ["kty", "crv", "x"]);
  assert.equal(key.thumbprint, jwkThumbprint(key.publicJwk.x));
  assert.notEqual(newInstallationKey().thumbprint, key.thumbprint);
  // Never shows the private half.
  const seen = [String(key), JSON.stringify(key), inspect(key), inspect(key, { showHidden: true })].join(" ");
  assert.ok(!seen.includes(pem.split("\n")[1] as string));
  assert.match(String(key), new RegExp(key.thumbprint));
});

test("the RFC 8032 test key as PKCS#8 PEM: its known thumbprint", () => {
  const pem = SERVICE_KEY.export({ format: "pem", type: "pkcs8" }) as string;
  const key = InstallationKey.fromPem(pem);
  assert.equal(key.publicJwk.x, X);
  assert.equal(key.thumbprint, KID);
  assert.equal(key.privatePem(), pem);
});

test("a PEM that is not an Ed25519 private key is bad_key", () => {
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }) as string;
  const encrypted = generateKeyPairSync("ed25519").privateKey.export({
    format: "pem",
    type: "pkcs8",
    cipher: "aes-256-cbc",
    passphrase: "x",
  }) as string;
  const publicPem = newInstallationKey().privatePem().replace(/PRIVATE/g, "PUBLIC");
  const good = newInstallationKey().privatePem();
  for (const bad of [ec, encrypted, publicPem, "", "hello", good.replace("M", "N"), good.slice(0, 60), Buffer.from([0xff, 0xfe]), "x".repeat(100_000)]) {
    const error = refused(AirgapError, () => InstallationKey.fromPem(bad));
    assert.equal(error.code, "bad_key");
    assert.ok(AIRGAP_ERROR_CODES.includes(error.code));
  }
  assert.throws(() => InstallationKey.fromPem(5 as never), TypeError);
});

test("an installation key encrypted with a passphrase", () => {
  const key = newInstallationKey();
  const pem = key.privatePem("correct horse");
  assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
  assert.equal(InstallationKey.fromPem(pem, "correct horse").thumbprint, key.thumbprint);
  for (const passphrase of [undefined, "", "wrong"]) {
    assert.equal(refused(AirgapError, () => InstallationKey.fromPem(pem, passphrase)).code, "bad_key");
  }
  assert.equal(InstallationKey.fromPem(key.privatePem(), "ignored for a plain PEM").thumbprint, key.thumbprint);
});

// --- the activation request ------------------------------------------------------------------------

test("an activation request: header, claims in order, signed by the key it carries", () => {
  const key = newInstallationKey();
  const license = signLicense(licenseClaims({ jti: "lic_7", exp: JUNE_1 + DAY })); // expired by now: still read
  const text = activationRequest(key, "inst-1", { licenseText: license, productVersion: "4.2.0", now: JUNE_1 + 3 * DAY });
  const { header, claims, signed, signature } = decode(text, "LICENSE ACTIVATION REQUEST");
  assert.equal(header, `{"alg":"EdDSA","typ":"license-activation+jwt","jwk":{"kty":"OKP","crv":"Ed25519","x":"${key.publicJwk.x}"}}`);
  const parsed = JSON.parse(claims) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), ["ver", "iat", "installation_id", "license_id", "product_version", "nonce"]);
  assert.deepEqual({ ...parsed, nonce: undefined }, {
    ver: 1,
    iat: JUNE_1 + 3 * DAY,
    installation_id: "inst-1",
    license_id: "lic_7",
    product_version: "4.2.0",
    nonce: undefined,
  });
  assert.match(claims, /^\{"ver":1,"iat":\d+,/); // compact JSON
  assert.equal(Buffer.from(parsed["nonce"] as string, "base64url").length, 16);
  assert.equal(b64(Buffer.from(parsed["nonce"] as string, "base64url")), parsed["nonce"]);
  assert.ok(cryptoVerify(null, signed, publicKeyOf(key), signature));
  assert.equal(unarmor(text, "LICENSE ACTIVATION REQUEST").split(".").length, 3);
});

test("an activation request: the license by id, by a verified License, defaults, and refusals", () => {
  const key = newInstallationKey();
  const before = Math.trunc(Date.now() / 1000);
  const byId = JSON.parse(decode(activationRequest(key, "inst-1", { licenseId: "lic_9" }), "LICENSE ACTIVATION REQUEST").claims);
  assert.deepEqual(Object.keys(byId), ["ver", "iat", "installation_id", "license_id", "nonce"]); // no product_version
  assert.equal(byId.license_id, "lic_9");
  assert.ok(byId.iat >= before && byId.iat <= Math.trunc(Date.now() / 1000));
  const fromLicense = decode(activationRequest(key, "inst-1", { licenseText: verified() }), "LICENSE ACTIVATION REQUEST");
  assert.equal(JSON.parse(fromLicense.claims).license_id, "lic_0001");
  const license = signLicense(licenseClaims());
  assert.equal(JSON.parse(decode(activationRequest(key, "i", { licenseText: Buffer.from(license), licenseId: "lic_0001" }), "LICENSE ACTIVATION REQUEST").claims).license_id, "lic_0001");
  // Two requests are never the same file.
  assert.notEqual(activationRequest(key, "i", { licenseId: "l", now: 5 }), activationRequest(key, "i", { licenseId: "l", now: 5 }));
  // 1 to 200 printable characters, counted as characters.
  assert.ok(activationRequest(key, "é".repeat(200), { licenseId: "l" }));
  assert.ok(activationRequest(key, "a b", { licenseId: "l" }));
  for (const bad of ["", "x".repeat(201), "a\nb", "a\tb", "\u200b", "a\u00a0b", "\ud800", "a\u2028"]) {
    assert.throws(() => activationRequest(key, bad, { licenseId: "l" }), RangeError, JSON.stringify(bad));
  }
  assert.throws(() => activationRequest(key, "i", { licenseId: "l", productVersion: "" }), RangeError);
  assert.throws(() => activationRequest(key, "i", { licenseId: "" }), RangeError);
  assert.throws(() => activationRequest(key, "i", { licenseId: "l", nonce: new Uint8Array(8) }), TypeError);
  const fixed = { licenseId: "l", now: 5, nonce: new Uint8Array(16).fill(7) };
  assert.equal(activationRequest(key, "i", fixed), activationRequest(key, "i", fixed)); // Ed25519 is deterministic
  assert.throws(() => activationRequest(key, "i"), TypeError); // no license named
  assert.throws(() => activationRequest(key, "i", { licenseText: license, licenseId: "lic_other" }), RangeError);
  assert.throws(() => activationRequest(key, 5 as never, { licenseId: "l" }), TypeError);
  assert.throws(() => activationRequest({} as never, "i", { licenseId: "l" }), TypeError);
  assert.throws(() => activationRequest(key, "i", { licenseText: 5 as never }), TypeError);
  assert.throws(() => activationRequest(key, "i", { licenseId: "l", now: "today" as never }), TypeError);
  // A text that holds no license is the license's fault.
  for (const bad of ["", "hello", signReceipt(receiptClaims()), "a.b.c", signLicense(licenseClaims({ jti: 5 })), armor("e30.e30.e30", "LICENSE FILE")]) {
    assert.equal(refused(LicenseError, () => activationRequest(key, "i", { licenseText: bad })).code, "malformed");
  }
});

// --- the usage log ---------------------------------------------------------------------------------

const BOUND = (key: InstallationKey, changes: Record<string, unknown> = {}): string =>
  signLicense(licenseClaims({ jti: "lic_0002", installation_id: "inst-1", cnf: { jkt: key.thumbprint }, supersedes: "lic_0001", ...changes }));

interface ReportClaims {
  ver: number;
  iat: number;
  license_id: string;
  installation_id: string;
  seq: number;
  prev?: string;
  period: { start: number; end: number };
  peak_users: number;
  daily: [number, number][];
}

function readReport(text: string, key: InstallationKey): ReportClaims {
  const { header, claims, signed, signature } = decode(text, "LICENSE USAGE REPORT");
  assert.equal(header, `{"alg":"EdDSA","typ":"license-usage+jwt","kid":"${key.thumbprint}"}`);
  assert.ok(cryptoVerify(null, signed, publicKeyOf(key), signature));
  return JSON.parse(claims) as ReportClaims;
}

test("usage: the highest count of each UTC day, exported as a chain of reports", () => {
  const key = newInstallationKey();
  const path = tmpFile();
  const log = UsageLog.open(path, key, BOUND(key));
  assert.equal(log.licenseId, "lic_0002");
  assert.equal(log.installationId, "inst-1");
  assert.equal(log.seq, 0);
  assert.equal(log.lastReport, null);
  assert.equal(log.lastDigest, null);
  log.record(5, JUNE_1 + 3600);
  log.record(12, new Date((JUNE_1 + 7200) * 1000));
  log.record(7, JUNE_1 + DAY - 1);
  log.record(3, JUNE_1 + 2 * DAY);
  log.record(9, JUNE_1 + 5 * DAY); // after the report's until
  assert.deepEqual(log.pending(), [[JUNE_1, 12], [JUNE_1 + 2 * DAY, 3], [JUNE_1 + 5 * DAY, 9]]);
  const first = log.export(JUNE_1 + 2 * DAY + 100, { now: JUNE_1 + 2 * DAY + 200 });
  const one = readReport(first, key);
  assert.deepEqual(Object.keys(one), ["ver", "iat", "license_id", "installation_id", "seq", "period", "peak_users", "daily"]);
  assert.deepEqual(one, {
    ver: 1,
    iat: JUNE_1 + 2 * DAY + 200,
    license_id: "lic_0002",
    installation_id: "inst-1",
    seq: 1,
    period: { start: JUNE_1, end: JUNE_1 + 3 * DAY },
    peak_users: 12,
    daily: [[JUNE_1, 12], [JUNE_1 + 2 * DAY, 3]],
  });
  assert.equal(log.seq, 1);
  assert.equal(log.lastReport, first);
  assert.equal(log.lastDigest, reportDigest(first));
  assert.equal(log.lastDigest, createHash("sha256").update(unarmor(first, "LICENSE USAGE REPORT")).digest("base64url"));
  assert.equal(log.reportedUntil?.getTime(), (JUNE_1 + 3 * DAY) * 1000);
  assert.deepEqual(log.pending(), [[JUNE_1 + 5 * DAY, 9]]);

  // A day already reported is refused; the days after are not.
  for (const at of [JUNE_1, JUNE_1 + 3 * DAY - 1]) {
    assert.equal(refused(AirgapError, () => log.record(100, at)).code, "already_reported");
  }
  assert.equal(refused(AirgapError, () => log.export(JUNE_1 + DAY)).code, "already_reported");
  log.record(20, JUNE_1 + 3 * DAY);
  const secondText = log.export(JUNE_1 + 9 * DAY, { now: JUNE_1 + 9 * DAY });
  const two = readReport(secondText, key);
  assert.deepEqual(two, {
    ver: 1,
    iat: JUNE_1 + 9 * DAY,
    license_id: "lic_0002",
    installation_id: "inst-1",
    seq: 2,
    prev: reportDigest(first),
    period: { start: JUNE_1 + 3 * DAY, end: JUNE_1 + 10 * DAY },
    peak_users: 20,
    daily: [[JUNE_1 + 3 * DAY, 20], [JUNE_1 + 5 * DAY, 9]],
  });
  // An empty report: nothing recorded since.
  const thirdText = log.export(JUNE_1 + 12 * DAY);
  const three = readReport(thirdText, key);
  assert.equal(three.seq, 3);
  assert.deepEqual([three.period, three.peak_users, three.daily], [{ start: JUNE_1 + 10 * DAY, end: JUNE_1 + 13 * DAY }, 0, []]);
  assert.equal(three.prev, reportDigest(secondText));
  // Again the same day: nothing new to carry, refused as in Python and Go (the last report is kept to send
  // again); the day before is refused too.
  assert.equal(refused(AirgapError, () => log.export(JUNE_1 + 12 * DAY + 5)).code, "already_reported");
  assert.equal(log.lastReport, thirdText);
  assert.equal(refused(AirgapError, () => log.export(JUNE_1 + 11 * DAY)).code, "already_reported");
});

test("usage: the first report of an empty log covers until's day; an unbound license with the installation id given", () => {
  const key = newInstallationKey();
  const unbound = signLicense(licenseClaims());
  assert.throws(() => UsageLog.open(tmpFile(), key, unbound), TypeError);
  const log = UsageLog.open(tmpFile(), key, unbound, { installationId: "inst-9" });
  const report = readReport(log.export(new Date("2025-06-04T23:59:59Z")), key);
  assert.deepEqual([report.seq, report.prev, report.period, report.peak_users, report.daily, report.license_id, report.installation_id], [
    1,
    undefined,
    { start: JUNE_1 + 3 * DAY, end: JUNE_1 + 4 * DAY },
    0,
    [],
    "lic_0001",
    "inst-9",
  ]);
  assert.ok(Math.abs(report.iat - Date.now() / 1000) < 60);
  // The bound license's own installation id wins; another one given is a mistake.
  assert.throws(() => UsageLog.open(tmpFile(), key, BOUND(key), { installationId: "inst-2" }), RangeError);
  assert.equal(UsageLog.open(tmpFile(), key, BOUND(key), { installationId: "inst-1" }).installationId, "inst-1");
  // A verified License is taken too.
  const lic = verify(BOUND(key), KEYRING, { now: JUNE_1 + DAY, installationId: "inst-1" });
  assert.equal(lic.cnfJkt, key.thumbprint);
  assert.equal(UsageLog.open(tmpFile(), key, lic).licenseId, "lic_0002");
});

test("usage: the log survives restarts, is written atomically with mode 0600, and keeps the chain", () => {
  const key = newInstallationKey();
  const path = tmpFile();
  let log = UsageLog.open(path, key, BOUND(key));
  assert.equal(statSync(path).mode & 0o777, 0o600);
  log.record(4, JUNE_1);
  log = UsageLog.open(path, key, BOUND(key)); // a restart
  assert.deepEqual(log.pending(), [[JUNE_1, 4]]);
  log.record(2, JUNE_1 + 10);
  const first = log.export(JUNE_1);
  log = UsageLog.open(path, key, BOUND(key, { jti: "lic_0003", supersedes: "lic_0002" })); // a renewal installed
  assert.equal(log.seq, 1);
  assert.equal(log.lastReport, first);
  assert.equal(refused(AirgapError, () => log.record(1, JUNE_1 + 5)).code, "already_reported");
  log.record(6, JUNE_1 + DAY);
  const second = readReport(log.export(JUNE_1 + DAY), key);
  assert.deepEqual([second.seq, second.prev, second.license_id, second.daily], [2, reportDigest(first), "lic_0003", [[JUNE_1 + DAY, 6]]]);
  assert.deepEqual(readdirSync(join(path, "..")), ["usage.json"]); // no temporary file left behind
  assert.equal(statSync(path).mode & 0o777, 0o600);
  chmodSync(path, 0o644);
  UsageLog.open(path, key, BOUND(key)).record(1, JUNE_1 + 3 * DAY);
  assert.equal(statSync(path).mode & 0o777, 0o600);
});

test("usage: a failed write changes nothing, on disk or in memory", () => {
  const key = newInstallationKey();
  const path = tmpFile();
  const log = UsageLog.open(path, key, BOUND(key));
  log.record(3, JUNE_1);
  const before = readFileSync(path, "utf8");
  const dir = join(path, "..");
  renameSync(dir, `${dir}.away`);
  writeFileSync(dir, "a file where the log's directory was"); // fails for root too, unlike a chmod
  try {
    assert.throws(() => log.record(9, JUNE_1), { code: "ENOTDIR" });
    assert.throws(() => log.export(JUNE_1), { code: "ENOTDIR" });
  } finally {
    rmSync(dir);
    renameSync(`${dir}.away`, dir);
  }
  assert.equal(readFileSync(path, "utf8"), before);
  assert.deepEqual(log.pending(), [[JUNE_1, 3]]);
  assert.equal(log.seq, 0);
});

test("usage: a damaged log, another key's log, a license bound to another key", () => {
  const key = newInstallationKey();
  const path = tmpFile();
  const log = UsageLog.open(path, key, BOUND(key));
  log.record(3, JUNE_1);
  log.export(JUNE_1);
  log.record(5, JUNE_1 + DAY);
  const good = readFileSync(path, "utf8");
  const document = JSON.parse(good) as Record<string, unknown>;
  const other = newInstallationKey();
  assert.equal(refused(AirgapError, () => UsageLog.open(path, other, BOUND(other))).code, "other_key");
  assert.equal(refused(AirgapError, () => UsageLog.open(tmpFile(), key, BOUND(other))).code, "other_key");
  const last = document["last_report"] as Record<string, unknown>;
  const damaged = [
    "",
    "{",
    "[]",
    "null",
    good.slice(0, good.length / 2),
    JSON.stringify({ ...document, format: "x" }),
    JSON.stringify({ ...document, version: 2 }),
    JSON.stringify({ ...document, days: [[JUNE_1, 3]] }), // a reported day
    JSON.stringify({ ...document, days: [[JUNE_1 + DAY + 1, 3]] }),
    JSON.stringify({ ...document, days: [[JUNE_1 + DAY, -1]] }),
    JSON.stringify({ ...document, days: [[JUNE_1 + DAY, 1.5]] }),
    JSON.stringify({ ...document, days: [[JUNE_1 + DAY, 1], [JUNE_1 + DAY, 2]] }),
    JSON.stringify({ ...document, days: {} }),
    JSON.stringify({ ...document, days: undefined }),
    JSON.stringify({ ...document, last_report: { ...last, seq: 0 } }),
    JSON.stringify({ ...document, last_report: { ...last, digest: "abc" } }),
    JSON.stringify({ ...document, last_report: { ...last, digest: reportDigest(armor("e30.e30.e30", "LICENSE USAGE REPORT")) } }),
    JSON.stringify({ ...document, last_report: { ...last, period_end: JUNE_1 + 5 } }),
    JSON.stringify({ ...document, last_report: { ...last, report: "not a report" } }),
    JSON.stringify({ ...document, last_report: { ...last, report: undefined } }),
    JSON.stringify({ ...document, last_report: [] }),
  ];
  for (const text of damaged) {
    writeFileSync(path, text);
    assert.equal(refused(AirgapError, () => UsageLog.open(path, key, BOUND(key))).code, "bad_log", text);
  }
  writeFileSync(path, Buffer.from([0xff, 0xfe]));
  assert.equal(refused(AirgapError, () => UsageLog.open(path, key, BOUND(key))).code, "bad_log");
  writeFileSync(path, good);
  assert.deepEqual(UsageLog.open(path, key, BOUND(key)).pending(), [[JUNE_1 + DAY, 5]]);
  assert.throws(() => UsageLog.open(join(TMP, "no-such-dir", "usage.json"), key, BOUND(key)), { code: "ENOENT" });
});

test("usage: bad arguments", () => {
  const key = newInstallationKey();
  const log = UsageLog.open(tmpFile(), key, BOUND(key));
  for (const n of [-1, 1.5, NaN, Infinity, 2 ** 53]) assert.throws(() => log.record(n, JUNE_1), RangeError, String(n));
  assert.throws(() => log.record("5" as never, JUNE_1), TypeError);
  assert.throws(() => log.record(1, "2025-06-01" as never), TypeError);
  assert.throws(() => log.record(1, -5), RangeError);
  assert.throws(() => log.export(new Date("x")), RangeError);
  assert.throws(() => UsageLog.open("", key, BOUND(key)), TypeError);
  assert.throws(() => UsageLog.open(tmpFile(), "key" as never, BOUND(key)), TypeError);
  assert.equal(refused(LicenseError, () => UsageLog.open(tmpFile(), key, "not a license")).code, "malformed");
  assert.deepEqual(log.pending(), []);
});

test("usageReport: what the log exports, from fields; and what does not hold together", () => {
  const key = newInstallationKey();
  const log = UsageLog.open(tmpFile(), key, BOUND(key));
  log.record(4, JUNE_1 + DAY);
  const first = log.export(JUNE_1 + 2 * DAY, { now: JUNE_1 + 3 * DAY });
  const fields = {
    licenseId: "lic_0002",
    installationId: "inst-1",
    seq: 1,
    prev: null,
    periodStart: JUNE_1 + DAY,
    periodEnd: JUNE_1 + 3 * DAY,
    daily: [[JUNE_1 + DAY, 4]] as [number, number][],
    now: JUNE_1 + 3 * DAY,
  };
  assert.equal(usageReport(key, fields), first);
  const next = { ...fields, seq: 2, prev: reportDigest(first), periodStart: JUNE_1 + 3 * DAY, periodEnd: JUNE_1 + 5 * DAY, daily: [] };
  assert.deepEqual(readReport(usageReport(key, next), key).prev, reportDigest(first));
  const bad: [Record<string, unknown>, typeof RangeError | typeof TypeError][] = [
    [{ seq: 0 }, RangeError],
    [{ seq: 1.5 }, RangeError],
    [{ prev: reportDigest(first) }, RangeError], // prev on seq 1
    [{ seq: 2 }, RangeError], // no prev after seq 1
    [{ seq: 2, prev: "abc" }, RangeError],
    [{ periodStart: JUNE_1 + 1 }, RangeError],
    [{ periodEnd: JUNE_1 }, RangeError],
    [{ daily: [[JUNE_1, 4]] }, RangeError], // before the period
    [{ daily: [[JUNE_1 + 3 * DAY, 4]] }, RangeError], // at its end
    [{ daily: [[JUNE_1 + 2 * DAY, 4], [JUNE_1 + DAY, 4]] }, RangeError],
    [{ daily: [[JUNE_1 + DAY, 4], [JUNE_1 + DAY, 5]] }, RangeError],
    [{ daily: [[JUNE_1 + DAY, -1]] }, RangeError],
    [{ daily: [[JUNE_1 + DAY, 1, 2]] }, RangeError],
    [{ daily: "x" }, TypeError],
    [{ licenseId: "" }, RangeError],
    [{ installationId: "a\nb" }, RangeError],
  ];
  for (const [changes, kind] of bad) {
    assert.throws(() => usageReport(key, { ...fields, ...changes } as never), kind, JSON.stringify(changes));
  }
  assert.throws(() => usageReport({} as never, fields), TypeError);
});

test("usage: a year of daily counts makes a report that reads back", () => {
  const key = newInstallationKey();
  const log = UsageLog.open(tmpFile(), key, BOUND(key));
  const start = performance.now();
  for (let d = 0; d < 366; d++) log.record((d * 7) % 50, JUNE_1 + d * DAY + 3600);
  const report = readReport(log.export(JUNE_1 + 365 * DAY), key);
  const elapsed = performance.now() - start;
  assert.equal(report.daily.length, 366);
  assert.equal(report.peak_users, 49);
  assert.ok(report.daily.every(([day], i) => day === JUNE_1 + i * DAY));
  console.log(`# 366 records (each an atomic write) and a report of a year: ${elapsed.toFixed(0)} ms`);
});

// --- receipts --------------------------------------------------------------------------------------

test("a receipt: its fields, and the report it acknowledges", () => {
  const claims = receiptClaims();
  const receipt = verifyReceipt(signReceipt(claims), KEYRING, { reportDigest: claims["report"] as string });
  assert.ok(receipt instanceof Receipt);
  assert.deepEqual({ ...receipt }, {
    issuer: "test-issuer",
    issuedAt: new Date((JUNE_1 + 40 * DAY) * 1000),
    installationId: "inst-1",
    licenseId: "lic_0002",
    seq: 1,
    report: claims["report"],
    peakUsers: 14,
    seats: 10,
    overage: 4,
    gap: false,
    keyId: KID,
  });
  const unlimited = verifyReceipt(Buffer.from(signReceipt(receiptClaims({ seats: null, overage: 0, gap: true, seq: 5 }))), KEYRING);
  assert.deepEqual([unlimited.seats, unlimited.overage, unlimited.gap, unlimited.seq], [null, 0, true, 5]);
  // Alg Ed25519, typ with application/ in any case, a bare JWS: as license files.
  const bare = signRaw(JSON.stringify({ alg: "Ed25519", kid: KID, typ: "Application/License-Usage-Receipt+JWT" }), JSON.stringify(claims));
  assert.equal(verifyReceipt(bare, KEYRING).seq, 1);
  // Another report's receipt.
  const error = refused(LicenseError, () => verifyReceipt(signReceipt(claims), KEYRING, { reportDigest: reportDigest(armor(bare, "LICENSE USAGE REPORT")) }));
  assert.equal(error.code, "malformed");
  assert.match(error.message, /another usage report/);
  assert.throws(() => verifyReceipt(signReceipt(claims), {} as never), TypeError);
  assert.throws(() => verifyReceipt(signReceipt(claims), KEYRING, { reportDigest: 5 as never }), TypeError);
});

test("a receipt refused: the verifier's codes", () => {
  const good = signReceipt(receiptClaims());
  const compact = unarmor(good, "LICENSE USAGE RECEIPT");
  const [h, c] = compact.split(".") as [string, string];
  const cases: [string, string | Uint8Array][] = [
    ["bad_signature", `${h}.${b64(JSON.stringify(receiptClaims({ peak_users: 1 })))}.${compact.split(".")[2]}`],
    ["unsupported", signReceipt(receiptClaims(), { ...RECEIPT_HEADER, typ: "license+jwt" })],
    ["unsupported", signReceipt(receiptClaims(), { ...RECEIPT_HEADER, typ: "license-usage+jwt" })],
    ["unsupported", signReceipt(receiptClaims(), { ...RECEIPT_HEADER, alg: "HS256" })],
    ["unsupported", `${b64(JSON.stringify({ ...RECEIPT_HEADER, alg: "none" }))}.${c}.`],
    ["unsupported", signReceipt(receiptClaims(), { ...RECEIPT_HEADER, crit: ["exp"] })],
    ["unsupported", signReceipt(receiptClaims({ ver: 2 }))],
    ["unknown_key", signReceipt(receiptClaims(), { ...RECEIPT_HEADER, kid: "another" })],
    ["malformed", signLicense(licenseClaims())],
    ["malformed", armor(compact, "LICENSE USAGE REPORT")],
    ["malformed", good.replace("-----END LICENSE USAGE RECEIPT-----", "")],
    ["malformed", "x".repeat(1_000_001)],
    ["malformed", ""],
    ["malformed", Buffer.from([0xff])],
  ];
  const claimCases: Record<string, unknown>[] = [
    { iss: undefined },
    { iat: "x" },
    { iat: 1.5 },
    { installation_id: "" },
    { license_id: 5 },
    { seq: 0 },
    { seq: true },
    { report: "abc" },
    { report: undefined },
    { peak_users: -1 },
    { seats: undefined },
    { seats: "10" },
    { overage: -1 },
    { overage: 5 },
    { seats: 0, overage: 14 },
    { seats: null },
    { installation_id: "inst\n1" },
    { installation_id: "x".repeat(201) },
    { gap: "yes" },
    { gap: undefined },
  ];
  for (const changes of claimCases) {
    const payload = JSON.stringify(receiptClaims(changes));
    cases.push(["malformed", armor(signRaw(JSON.stringify(RECEIPT_HEADER), payload), "LICENSE USAGE RECEIPT")]);
  }
  cases.push(["malformed", armor(signRaw(JSON.stringify(RECEIPT_HEADER), JSON.stringify(receiptClaims()).replace('"seq":1', '"seq":1.0')), "LICENSE USAGE RECEIPT")]);
  for (const [code, text] of cases) {
    const error = refused(LicenseError, () => verifyReceipt(text, KEYRING));
    assert.equal(error.code, code, typeof text === "string" ? text.slice(0, 200) : "bytes");
    assert.ok(error.message.length > 0);
    assert.equal(error.cause, undefined, `the safety net caught ${String(error.cause)}`);
  }
});

// --- compare ---------------------------------------------------------------------------------------

test("compare: the contract's lines, warnings first", () => {
  const old = verified();
  const renewal = verified({
    jti: "lic_0002",
    supersedes: "lic_0001",
    iat: JUNE_1 + 30 * DAY,
    nbf: JUNE_1 + 31 * DAY,
    exp: null,
    tier: "enterprise",
    trial: true,
    seats: 25,
    features: ["audit", "saml", "sso"],
    grace_days: 30,
    installation_id: "inst-1",
    cnf: { jkt: KID },
  });
  const comparison = compare(old, renewal);
  assert.ok(comparison instanceof Comparison);
  assert.deepEqual(comparison.warnings, []);
  assert.deepEqual(comparison.changes, [
    { field: "tier", old: "professional", new: "enterprise" },
    { field: "trial", old: false, new: true },
    { field: "seats", old: 10, new: 25 },
    { field: "features", added: ["audit", "sso"], removed: ["ldap"] },
    { field: "not_before", old: JUNE_1, new: JUNE_1 + 31 * DAY },
    { field: "expires_at", old: JUNE_1 + 365 * DAY, new: null },
    { field: "grace_days", old: 10, new: 30 },
    { field: "installation_id", old: null, new: "inst-1" },
    { field: "cnf_jkt", old: null, new: KID },
  ]);
  assert.deepEqual(comparison.lines, [
    "tier: professional -> enterprise",
    "trial: false -> true",
    "seats: 10 -> 25",
    "features added: audit, sso",
    "features removed: ldap",
    "valid from: 2025-06-01T00:00:00Z -> 2025-07-02T00:00:00Z",
    "expires: 2026-06-01T00:00:00Z -> never",
    "grace days: 10 -> 30",
    "installation: none -> inst-1",
    `installation key: none -> ${KID}`,
  ]);
  assert.equal(String(comparison), comparison.lines.join("\n"));
  // The other way round: unlimited, never, none.
  const back = compare(renewal, verified({ jti: "lic_0003", supersedes: "lic_0002", iat: JUNE_1 + 40 * DAY, seats: null, features: ["audit", "saml", "sso"], tier: "enterprise", trial: true, nbf: JUNE_1 + 31 * DAY, grace_days: 30 }));
  assert.deepEqual(back.lines, [
    "seats: 25 -> unlimited",
    "expires: never -> 2026-06-01T00:00:00Z",
    "installation: inst-1 -> none",
    `installation key: ${KID} -> none`,
  ]);
  assert.ok(Object.isFrozen(comparison.changes) && Object.isFrozen(comparison.lines) && Object.isFrozen(comparison.changes[0]));
});

test("compare: warnings", () => {
  const old = verified();
  const older = verified({ jti: "lic_x", iat: JUNE_1 - DAY, sub: "cus_0002" });
  const c = compare(old, older);
  assert.deepEqual(c.warnings, [{ code: "issued_before" }, { code: "other_customer" }, { code: "other_line" }]);
  assert.deepEqual(c.lines, [
    "warning: NEW was issued before OLD",
    "warning: NEW belongs to another customer (cus_0002, not cus_0001)",
    "warning: NEW does not supersede OLD: it may belong to another line",
  ]);
  assert.deepEqual(c.changes, []);
  const same = compare(old, verified());
  assert.deepEqual([same.warnings, same.changes, same.lines], [[{ code: "same_license" }], [], ["warning: NEW is the same license as OLD"]]);
  const sameButEarlier = compare(old, verified({ iat: JUNE_1 - DAY, sub: "cus_9", seats: 11 }));
  assert.deepEqual(sameButEarlier.warnings, [{ code: "same_license" }]);
  assert.deepEqual(sameButEarlier.lines, ["warning: NEW is the same license as OLD", "seats: 10 -> 11"]);
  const next = compare(old, verified({ jti: "lic_0002", supersedes: "lic_0001" }));
  assert.deepEqual([next.warnings, next.changes, next.lines, String(next)], [[], [], ["no changes"], "no changes"]);
  // Features are sorted by code point, as Python sorts them.
  const features = compare(old, verified({ jti: "lic_0002", supersedes: "lic_0001", features: ["ldap", "saml", "\uff41", "\u{1f600}", "Z", "a"] }));
  assert.deepEqual(features.changes, [{ field: "features", added: ["Z", "a", "\uff41", "\u{1f600}"], removed: [] }]);
  assert.throws(() => compare(old, {} as never), TypeError);
  assert.throws(() => compare("x" as never, old), TypeError);
});

// --- no input makes anything but the documented errors escape: a seeded random search -------------

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

function only(kinds: (new (...args: never[]) => Error)[], run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!kinds.some((kind) => error instanceof kind)) throw error;
    if (error instanceof LicenseError) {
      assert.ok(ERROR_CODES.includes(error.code));
      assert.equal(error.cause, undefined, `the safety net caught ${String(error.cause)}`);
    }
    if (error instanceof AirgapError) assert.ok(AIRGAP_ERROR_CODES.includes(error.code));
  }
}

function mutate(next: () => number, text: string): Uint8Array | string {
  const inserts = ["\ufeff", "\u00a0", "\u200b", "é", ".", "=", "-----BEGIN ", "\r\n", "\x00", "😀", "\ud800", "{", '"'];
  if (next() < 0.5) {
    const data = new Uint8Array(Buffer.from(text));
    for (let n = 1 + Math.floor(next() * 3); n > 0; n--) data[Math.floor(next() * data.length)] = Math.floor(next() * 256);
    return data;
  }
  const at = Math.floor(next() * text.length);
  return text.slice(0, at) + (inserts[Math.floor(next() * inserts.length)] as string) + text.slice(at + Math.floor(next() * 3));
}

test("random changes to receipts, licenses, keys and logs: only the documented errors", () => {
  const next = random(20251207);
  const key = newInstallationKey();
  const receipt = signReceipt(receiptClaims());
  const license = BOUND(key);
  const pem = key.privatePem();
  const path = tmpFile();
  const log = UsageLog.open(path, key, license);
  log.record(3, JUNE_1);
  log.export(JUNE_1);
  log.record(4, JUNE_1 + DAY);
  const logText = readFileSync(path, "utf8");
  let accepted = 0;
  for (let i = 0; i < 1500; i++) {
    only([LicenseError], () => {
      verifyReceipt(mutate(next, receipt), KEYRING, { reportDigest: next() < 0.5 ? null : (receiptClaims()["report"] as string) });
      accepted++;
    });
    only([LicenseError], () => activationRequest(key, "inst-1", { licenseText: mutate(next, license) }));
    only([LicenseError, AirgapError, RangeError], () => {
      try {
        UsageLog.open(tmpFile(), key, mutate(next, license), { installationId: "inst-1" });
      } catch (error) {
        // A change to the license's installation_id: not the one the program gave.
        if (error instanceof RangeError) assert.match(error.message, /^installationId "inst-1" is not the one the license is bound to/);
        throw error;
      }
    });
    only([AirgapError], () => InstallationKey.fromPem(mutate(next, pem)));
    only([LicenseError], () => reportDigest(mutate(next, log.lastReport as string)));
    if (i % 5 === 0) {
      const damaged = mutate(next, logText);
      writeFileSync(path, damaged);
      only([AirgapError], () => UsageLog.open(path, key, license).record(1, JUNE_1 + 2 * DAY));
    }
  }
  assert.ok(accepted > 10, `${accepted}`); // some changes are ones the armor tolerates
});

test("random claims, signed by a trusted key, reach the receipt's claim checks", () => {
  const next = random(7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const scalars = ["null", "true", "false", "0", "-0", "1", "-1", "1.0", "1e3", "NaN", "-Infinity", '""', '"x"', '"\\ud800"',
    "9007199254740993", "253402300800", "1" + "0".repeat(40), "[]", "{}", JSON.stringify(receiptClaims()["report"])];
  const names = ["ver", "iss", "iat", "installation_id", "license_id", "seq", "report", "peak_users", "seats", "overage", "gap", "x"];
  for (let i = 0; i < 1500; i++) {
    const object: Record<string, string> = {};
    for (const [k, v] of Object.entries(receiptClaims())) object[k] = JSON.stringify(v);
    for (let n = 1 + Math.floor(next() * 3); n > 0; n--) {
      if (next() < 0.1) delete object[pick(names)];
      else object[pick(names)] = pick(scalars);
    }
    const payload = `{${Object.entries(object).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`;
    const typ = pick(["license-usage-receipt+jwt", "LICENSE-USAGE-RECEIPT+JWT", "license+jwt"]);
    only([LicenseError], () => {
      const receipt = verifyReceipt(signRaw(JSON.stringify({ alg: pick(["EdDSA", "Ed25519", "none"]), typ, kid: KID }), payload), KEYRING);
      assert.ok(receipt.seq >= 1 && receipt.peakUsers >= 0 && receipt.overage >= 0 && typeof receipt.gap === "boolean");
    });
  }
});

test("random arguments from a program: TypeError or RangeError at once, never anything else", () => {
  const next = random(99);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const key = newInstallationKey();
  const values: unknown[] = [undefined, null, 0, -1, 1.5, NaN, Infinity, 2 ** 53, JUNE_1, JUNE_1 + DAY, "", "x", "inst-1", "\u0000", "\ud800",
    "é".repeat(201), [], [[JUNE_1, 1]], [[JUNE_1, -1]], [[JUNE_1 + 1, 1]], [["a", 1]], {}, true, new Date("x"), new Date(JUNE_1 * 1000),
    reportDigest(armor("e30.e30.e30", "LICENSE USAGE REPORT")), new Uint8Array(16), new Uint8Array(3)];
  const log = UsageLog.open(tmpFile(), key, BOUND(key));
  let made = 0;
  const guard = (run: () => unknown): void => {
    try {
      run();
      made++;
    } catch (error) {
      assert.ok(
        error instanceof TypeError || error instanceof RangeError || error instanceof AirgapError || error instanceof LicenseError,
        String(error),
      );
    }
  };
  for (let i = 0; i < 3000; i++) {
    guard(() =>
      usageReport(key, {
        licenseId: pick(values),
        installationId: pick(values),
        seq: pick(values),
        prev: pick(values),
        periodStart: pick(values),
        periodEnd: pick(values),
        daily: pick(values),
        now: pick(values),
      } as never),
    );
    guard(() => activationRequest(key, pick(values) as never, { licenseId: pick(values), productVersion: pick(values), now: pick(values), nonce: pick(values) } as never));
    guard(() => log.record(pick(values) as never, pick(values) as never));
  }
  assert.ok(made > 0);
});

test("usage: an until in the future is refused and changes nothing, as in Python and Go", () => {
  const key = newInstallationKey();
  const log = UsageLog.open(tmpFile(), key, BOUND(key));
  log.record(3);
  const now = Math.floor(Date.now() / 1000);
  assert.throws(() => log.export(now + 2 * 86_400), RangeError);
  assert.equal(log.lastReport, null);
  assert.equal(log.pending().length, 1);
  log.export(now + 60); // a minute ahead is within the leeway
  assert.equal(log.pending().length, 0);
});
