// scripts/airgap.mjs, the command line the service's end-to-end tests drive the built package with:
// run as they run it (node, a subprocess), against the vectors.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

import { InstallationKey, compare, parseKeyring, reportDigest, unarmor, verify } from "licensing-verifier";

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, "..", "..", "scripts", "airgap.mjs");
const VECTORS = process.env["LICENSING_VECTORS"] ?? join(HERE, "..", "..", "..", "..", "tests", "vectors");
const JWKS = join(VECTORS, "jwks.json");
const TMP = mkdtempSync(join(tmpdir(), "airgap-script-"));
after(() => rmSync(TMP, { recursive: true, force: true }));

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(...args: string[]): string {
  const result = run(...args);
  assert.equal(result.status, 0, `${args.join(" ")}: ${result.stderr}`);
  assert.equal(result.stderr, "");
  return result.stdout;
}

function claims(armored: string, label: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(unarmor(armored, label as never).split(".")[1] as string, "base64url").toString("utf8")) as Record<string, unknown>;
}

test("key, request, record and export, as a server would run them", () => {
  const pem = join(TMP, "installation.pem");
  const made = JSON.parse(ok("key", pem)) as { thumbprint: string; jwk: { x: string } };
  assert.equal(statSync(pem).mode & 0o777, 0o600);
  const key = InstallationKey.fromPem(readFileSync(pem));
  assert.equal(made.thumbprint, key.thumbprint);
  assert.deepEqual(made.jwk, { ...key.publicJwk });
  const again = run("key", pem); // never overwrites a key
  assert.equal(again.status, 2);
  assert.match(again.stderr, /^error: .*EEXIST/);
  assert.equal(InstallationKey.fromPem(readFileSync(pem)).thumbprint, key.thumbprint);

  const license = join(VECTORS, "professional.lic");
  const request = ok("request", "--key", pem, "--installation", "inst-1", "--license", license, "--product-version", "4.2.0");
  assert.match(request, /^-----BEGIN LICENSE ACTIVATION REQUEST-----\n[\s\S]+\n-----END LICENSE ACTIVATION REQUEST-----\n$/);
  assert.deepEqual(
    { ...claims(request, "LICENSE ACTIVATION REQUEST"), iat: 0, nonce: "" },
    { ver: 1, iat: 0, installation_id: "inst-1", license_id: "lic_professional", product_version: "4.2.0", nonce: "" },
  );

  const byId = ok("request", "--key", pem, "--installation", "inst-1", "--license-id", "lic_42");
  assert.equal(claims(byId, "LICENSE ACTIVATION REQUEST")["license_id"], "lic_42");
  const neither = run("request", "--key", pem, "--installation", "inst-1");
  assert.equal(neither.status, 2);
  assert.match(neither.stderr, /--license FILE or --license-id/);

  const log = join(TMP, "usage.json");
  const common = ["--log", log, "--key", pem, "--license", license, "--installation", "inst-1"];
  assert.equal(ok("record", ...common, "--users", "12", "--at", "2025-06-01T10:00:00Z"), "");
  ok("record", ...common, "--users", "8", "--at", "2025-06-01T23:59:59Z");
  ok("record", ...common, "--users", "30", "--at", "2025-06-03T02:00:00+02:00"); // 2025-06-03T00:00:00Z
  const first = ok("export", ...common, "--until", "2025-06-02T12:00:00Z");
  const one = claims(first, "LICENSE USAGE REPORT");
  assert.deepEqual([one["seq"], one["period"], one["peak_users"], one["daily"]], [1, { start: 1_748_736_000, end: 1_748_908_800 }, 12, [[1_748_736_000, 12]]]);
  const second = ok("export", ...common, "--until", "2025-06-03T00:00:00Z");
  const two = claims(second, "LICENSE USAGE REPORT");
  assert.deepEqual([two["seq"], two["prev"], two["daily"]], [2, reportDigest(first), [[1_748_908_800, 30]]]);

  const late = run("record", ...common, "--users", "50", "--at", "2025-06-02T00:00:00Z");
  assert.equal(late.status, 1);
  assert.match(late.stderr, /^already_reported: 2025-06-02 was already reported/);
  assert.equal(run("export", ...common, "--until", "2025-06-01T00:00:00Z").status, 1);
  // The license names no installation: without --installation the program is told so.
  const unbound = run("record", "--log", log, "--key", pem, "--license", license, "--users", "1");
  assert.equal(unbound.status, 2);
  assert.match(unbound.stderr, /options\.installationId/);
});

test("receipt: the fields as JSON; a refusal exits 1 with its code", () => {
  const manifest = JSON.parse(readFileSync(join(VECTORS, "airgap", "manifest.json"), "utf8")) as {
    receipts: { file: string; report_digest?: string; expect: Record<string, unknown> }[];
  };
  const jwks = join(VECTORS, "jwks.json");
  let refusals = 0;
  for (const vector of manifest.receipts) {
    const args = ["receipt", "--jwks", jwks, join(VECTORS, "airgap", vector.file)];
    if (vector.report_digest !== undefined) args.push("--report-digest", vector.report_digest);
    const result = run(...args);
    if (vector.expect["ok"] === true) {
      assert.equal(result.status, 0, result.stderr);
      const got = JSON.parse(result.stdout) as Record<string, unknown>;
      assert.equal(typeof got["issuer"], "string");
      delete got["issuer"];
      const { ok: _ok, ...fields } = vector.expect;
      assert.deepEqual(got, fields);
    } else {
      assert.equal(result.status, 1);
      assert.equal(result.stdout, "");
      assert.match(result.stderr, new RegExp(`^${String(vector.expect["code"])}: .+\\n$`));
      refusals++;
    }
  }
  assert.ok(refusals >= 10);
});

test("compare: the lines of compare() for two license vectors verified at --at", () => {
  const keyring = parseKeyring(readFileSync(JWKS));
  const at = "2025-06-01T00:00:00Z";
  const pairs = [
    ["professional.lic", "professional.lic"],
    ["professional.lic", "enterprise-future-start.lic"],
    ["free-perpetual.lic", "professional.lic"],
  ] as const;
  for (const [old, fresh] of pairs) {
    const out = ok("compare", "--jwks", JWKS, "--at", at, join(VECTORS, old), join(VECTORS, fresh));
    const expected = compare(
      verify(readFileSync(join(VECTORS, old)), keyring, { now: new Date(at) }),
      verify(readFileSync(join(VECTORS, fresh)), keyring, { now: new Date(at) }),
    );
    assert.equal(out, `${expected.lines.join("\n")}\n`);
  }
  assert.equal(ok("compare", "--jwks", JWKS, "--at", at, join(VECTORS, "professional.lic"), join(VECTORS, "professional.lic")), "warning: NEW is the same license as OLD\n");
  const expired = run("compare", "--jwks", JWKS, "--at", "2099-01-01T00:00:00Z", join(VECTORS, "professional.lic"), join(VECTORS, "professional.lic"));
  assert.equal(expired.status, 1);
  assert.match(expired.stderr, /^expired: /);
});

test("usage mistakes exit 2 and say what is wrong", () => {
  for (const [args, message] of [
    [[], /a command: key, request/],
    [["nonsense"], /a command/],
    [["request", "--key", "k.pem"], /request needs --installation/],
    [["receipt", "--jwks", JWKS], /receipt takes 1 file name/],
    [["compare", "--jwks", JWKS, "--at", "yesterday", "a", "b"], /--at must be an RFC 3339 time/],
    [["record", "--log", "l", "--key", "k", "--license", "x", "--users", "many"], /./],
    [["key", "--force", "x.pem"], /Unknown option/],
  ] as [string[], RegExp][]) {
    const result = run(...args);
    assert.equal(result.status, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  writeFileSync(join(TMP, "not-a-key.pem"), "hello");
  const badKey = run("request", "--key", join(TMP, "not-a-key.pem"), "--installation", "i", "--license", join(VECTORS, "professional.lic"));
  assert.equal(badKey.status, 1);
  assert.match(badKey.stderr, /^bad_key: /);
});
