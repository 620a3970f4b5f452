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
