// The air-gapped conformance vectors (tests/vectors/airgap/manifest.json, written by the Python
// generator) replayed against the built package: the receipts and comparisons as Python and Go read
// them, the installation key's PEM, and the requests and reports this library WRITES, byte for byte
// the generator's (the same key, times and nonce; Ed25519 is deterministic).

import assert from "node:assert/strict";
import { generateKeyPairSync, sign as cryptoSign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

import {
  ERROR_CODES,
  InstallationKey,
  LicenseError,
  UsageLog,
  activationRequest,
  compare,
  parseKeyring,
  reportDigest,
  unarmor,
  usageReport,
  verify,
  verifyReceipt,
  type Receipt,
} from "licensing-verifier";

const VECTORS =
  process.env["LICENSING_VECTORS"] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "tests", "vectors");
const AIRGAP = join(VECTORS, "airgap");

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Expect = { [key: string]: Json };
interface Manifest {
  jwks: string;
  installation_key: { pem: string; jwk: { kty: string; crv: string; x: string }; thumbprint: string };
  requests: { name: string; file: string; expect: Expect }[];
  reports: { name: string; file: string; public_jwk: { x: string }; expect: Expect }[];
  receipts: { name: string; file: string; report_digest?: string; at?: string; expect: Expect }[];
  comparisons: {
    name?: string;
    old: string;
    new: string;
    at: string;
    installation_id?: string;
    old_installation_id?: string;
    new_installation_id?: string;
    expect: { changes: Json[]; warnings: Json[]; text: string[] };
  }[];
}

const manifest = JSON.parse(readFileSync(join(AIRGAP, "manifest.json"), "utf8")) as Manifest;
const keyring = parseKeyring(readFileSync(join(AIRGAP, manifest.jwks)));
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const read = (name: string): Uint8Array => new Uint8Array(readFileSync(join(AIRGAP, name)));

/** The input as bytes, and as text when it is UTF-8. */
function forms(data: Uint8Array): (string | Uint8Array)[] {
  try {
    return [data, utf8.decode(data)];
  } catch {
    return [data];
  }
}

function rfc3339(at: Date): string {
  return at.toISOString().replace(".000Z", "Z");
}

function rejection(error: unknown): Expect {
  if (!(error instanceof LicenseError)) throw error;
  assert.ok(ERROR_CODES.includes(error.code), error.code);
  assert.ok(error.message.length > 0);
  assert.equal(error.cause, undefined, `rejected by the safety net: ${String(error.cause)}`);
  return { ok: false, code: error.code };
}

function receiptView(r: Receipt): Expect {
  return {
    ok: true,
    installation_id: r.installationId,
    license_id: r.licenseId,
    seq: r.seq,
    report: r.report,
    peak_users: r.peakUsers,
    seats: r.seats,
    overage: r.overage,
    gap: r.gap,
    issued_at: rfc3339(r.issuedAt),
    key_id: r.keyId,
  };
}

const installationKey = InstallationKey.fromPem(read(manifest.installation_key.pem));

test("the installation key's PEM: the same JWK and thumbprint as Python's", () => {
  assert.deepEqual({ ...installationKey.publicJwk }, manifest.installation_key.jwk);
  assert.equal(installationKey.thumbprint, manifest.installation_key.thumbprint);
  assert.equal(InstallationKey.fromPem(utf8.decode(read(manifest.installation_key.pem))).thumbprint, manifest.installation_key.thumbprint);
});

test("receipt vectors", async (t) => {
  for (const vector of manifest.receipts) {
    await t.test(vector.name, () => {
      for (const text of forms(read(vector.file))) {
        let got: Expect;
        try {
          got = receiptView(verifyReceipt(text, keyring, { reportDigest: vector.report_digest ?? null }));
        } catch (error) {
          got = rejection(error);
        }
        assert.deepEqual(got, vector.expect, typeof text);
      }
    });
  }
});

/** The payload of a compact JWS, unverified (the vectors say what it must hold). */
function claimsOf(compact: string): Record<string, Json> {
  return JSON.parse(Buffer.from(compact.split(".")[1] as string, "base64url").toString("utf8")) as Record<string, Json>;
}

function headerOf(compact: string): string {
  return Buffer.from(compact.split(".")[0] as string, "base64url").toString("utf8");
}

test("requests made here are the generator's, byte for byte", () => {
  const label = "LICENSE ACTIVATION REQUEST";
  const writersHeader = JSON.stringify({ alg: "EdDSA", typ: "license-activation+jwt", jwk: installationKey.publicJwk });
  let made = 0;
  for (const vector of manifest.requests) {
    if (vector.expect["ok"] !== true) continue;
    const compact = unarmor(read(vector.file), label);
    if (headerOf(compact) !== writersHeader) continue; // alg Ed25519, typ variants: what a reader tolerates
    const e = vector.expect;
    assert.equal(e["thumbprint"], installationKey.thumbprint);
    const claims = claimsOf(compact);
    const ours = activationRequest(installationKey, e["installation_id"] as string, {
      licenseId: e["license_id"] as string,
      productVersion: e["product_version"] as string | null,
      now: e["iat"] as number,
      nonce: Buffer.from(e["nonce"] as string, "base64url"),
    });
    assert.deepEqual(claimsOf(unarmor(ours, label)), claims, vector.name);
    assert.equal(unarmor(ours, label), compact, vector.name);
    if (vector.file.endsWith(".lic")) assert.equal(ours, utf8.decode(read(vector.file)), vector.name);
    made++;
  }
  assert.ok(made >= 3, `${made}`);
});

function fakeLicense(claims: Record<string, unknown>): string {
  // Read unverified by the usage log: signed by a key made for the purpose.
  const { privateKey: key } = generateKeyPairSync("ed25519");
  const input = `${Buffer.from('{"alg":"EdDSA","typ":"license+jwt"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${input}.${cryptoSign(null, Buffer.from(input), key).toString("base64url")}`;
}

const TMP = mkdtempSync(join(tmpdir(), "airgap-vectors-"));
after(() => rmSync(TMP, { recursive: true, force: true }));

test("the chain of reports made by the usage log is the generator's, byte for byte", () => {
  const chain = ["report-1.lic", "report-2.lic", "report-3-empty.lic", "report-year.lic"].map((file) => {
    const vector = manifest.reports.find((v) => v.file === file && v.expect["ok"] === true);
    assert.ok(vector, file);
    return vector;
  });
  const first = chain[0]!.expect;
  const license = fakeLicense({
    jti: first["license_id"],
    installation_id: first["installation_id"],
    cnf: { jkt: installationKey.thumbprint },
  });
  const path = join(TMP, "usage.json");
  for (const vector of chain) {
    const e = vector.expect;
    const log = UsageLog.open(path, installationKey, license); // a restart between reports
    for (const [day, users] of e["daily"] as [number, number][]) {
      log.record(users, day + 3600);
      if (users > 0) log.record(users - 1, day + 7200); // the day's highest count is kept
    }
    const period = e["period"] as { start: number; end: number };
    const report = log.export(period.end - 1, { now: e["iat"] as number });
    assert.equal(unarmor(report, "LICENSE USAGE REPORT"), unarmor(read(vector.file), "LICENSE USAGE REPORT"), vector.name);
    assert.equal(report, utf8.decode(read(vector.file)), vector.name);
    assert.equal(log.lastDigest, e["digest"]);
    // The same from the fields alone: usageReport, for a product that keeps its own record.
    const fields = {
      licenseId: e["license_id"] as string,
      installationId: e["installation_id"] as string,
      seq: e["seq"] as number,
      prev: e["prev"] as string | null,
      periodStart: period.start,
      periodEnd: period.end,
      daily: e["daily"] as [number, number][],
      now: e["iat"] as number,
    };
    assert.equal(usageReport(installationKey, fields), report, vector.name);
  }
});

test("report digests, as a receipt names them", () => {
  for (const vector of manifest.reports) {
    if (vector.expect["ok"] !== true) continue;
    for (const text of forms(read(vector.file))) assert.equal(reportDigest(text), vector.expect["digest"], vector.name);
  }
});

test("comparison vectors", async (t) => {
  const licenseKeyring = parseKeyring(readFileSync(join(VECTORS, JSON.parse(readFileSync(join(VECTORS, "manifest.json"), "utf8")).jwks)));
  for (const [i, vector] of manifest.comparisons.entries()) {
    await t.test(vector.name ?? `${vector.old} -> ${vector.new}`, () => {
      const at = new Date(vector.at);
      const load = (file: string, installationId: string | undefined): ReturnType<typeof verify> => {
        const text = readFileSync(join(VECTORS, file));
        const bound = claimsOf(unarmor(text))["installation_id"];
        return verify(text, licenseKeyring, { now: at, installationId: installationId ?? (typeof bound === "string" ? bound : null) });
      };
      const old = load(vector.old, vector.old_installation_id ?? vector.installation_id);
      const fresh = load(vector.new, vector.new_installation_id ?? vector.installation_id);
      const comparison = compare(old, fresh);
      assert.deepEqual(JSON.parse(JSON.stringify(comparison.changes)), vector.expect.changes, `comparison ${i}`);
      assert.deepEqual(JSON.parse(JSON.stringify(comparison.warnings)), vector.expect.warnings, `comparison ${i}`);
      assert.deepEqual([...comparison.lines], vector.expect.text, `comparison ${i}`);
      assert.equal(String(comparison), vector.expect.text.join("\n"));
    });
  }
});

test("the air-gapped suite is whole", () => {
  assert.ok(manifest.receipts.length >= 20);
  const codes = new Set(manifest.receipts.filter((v) => v.expect["ok"] === false).map((v) => v.expect["code"]));
  assert.deepEqual(codes, new Set(["malformed", "unsupported", "unknown_key", "bad_signature"]));
  assert.ok(manifest.requests.length >= 10 && manifest.reports.length >= 10);
});
