// The CommonJS build, required by name, verifies like the ES module build.
const assert = require("node:assert/strict");
const { readFileSync } = require("node:fs");
const { join } = require("node:path");
const { test } = require("node:test");

const { parseKeyring, loadRevocations, verify, LicenseError } = require("licensing-verifier");

const VECTORS = process.env.LICENSING_VECTORS || join(__dirname, "..", "..", "..", "tests", "vectors");
const read = (name) => readFileSync(join(VECTORS, name));

test("the CommonJS build", () => {
  assert.match(require.resolve("licensing-verifier"), /dist[\\/]cjs[\\/]index\.js$/);
  const keyring = parseKeyring(read("jwks.json"));
  const revocations = loadRevocations(read("rev-seq.lic"), keyring);
  const lic = verify(read("professional.lic").toString("utf8"), keyring, { now: new Date("2025-06-01T00:00:00Z"), revocations });
  assert.equal(lic.status, "valid");
  assert.equal(lic.seats, 250);
  assert.ok(lic.hasFeature("saml"));
  assert.equal(revocations.seq, 7);
  assert.throws(
    () => verify(read("revoked.lic"), keyring, { now: 1748736000, revocations }),
    (error) => error instanceof LicenseError && error.code === "revoked",
  );
});

test("the CommonJS build: the air-gapped exchanges", () => {
  const airgap = require("licensing-verifier");
  const manifest = JSON.parse(readFileSync(join(VECTORS, "airgap", "manifest.json"), "utf8"));
  const key = airgap.InstallationKey.fromPem(readFileSync(join(VECTORS, "airgap", manifest.installation_key.pem)));
  assert.equal(key.thumbprint, manifest.installation_key.thumbprint);
  const keyring = parseKeyring(read("jwks.json"));
  const vector = manifest.receipts.find((v) => v.expect.ok && v.report_digest);
  const receipt = airgap.verifyReceipt(readFileSync(join(VECTORS, "airgap", vector.file)), keyring, { reportDigest: vector.report_digest });
  assert.equal(receipt.seq, vector.expect.seq);
  assert.equal(receipt.overage, vector.expect.overage);
  const request = airgap.activationRequest(airgap.newInstallationKey(), "inst-1", { licenseText: read("professional.lic") });
  assert.match(request, /^-----BEGIN LICENSE ACTIVATION REQUEST-----\n/);
  const lic = verify(read("professional.lic"), keyring, { now: 1748736000 });
  assert.equal(String(airgap.compare(lic, lic)), "warning: NEW is the same license as OLD");
  assert.throws(() => airgap.InstallationKey.fromPem("x"), (error) => error instanceof airgap.AirgapError && error.code === "bad_key");
});
