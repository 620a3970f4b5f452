// How fast the TypeScript library makes a usage report of a year (365 daily counts) and checks a
// usage receipt, against bare node:crypto Ed25519 in the same run.
//
//     node benchmarks/airgap_ts.mjs [--quick]      (after `npm run build` in verifiers/ts)
//
// 1. Making: usageReport(key, fields), what UsageLog.export signs (checking the days, the claims as
//    compact JSON, base64url, the Ed25519 signature, the armor), against a bare crypto.sign of the
//    same signing input with the same key.
// 2. Checking: verifyReceipt(text, keyring, { reportDigest }) (armor, base64url, header, signature,
//    JSON, every claim), against a bare crypto.verify of the same bytes. (Reports are checked by the
//    service, in Python: benchmarks/airgap.py.)
//
// Rounds alternate between the library call and its baseline; the ratio of rates (bare time /
// library time) is reported for the best and the median rounds. Target: at least 0.8 for both, on
// the best rounds. Then, for information, UsageLog.export end to end: it also writes the log durably
// (a temporary file, fsync, rename, fsync of the directory), which costs what the disk costs.
//
// Exits 1 when a target is missed (make bench then names this benchmark).

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify as cryptoVerify } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  UsageLog,
  newInstallationKey,
  parseKeyring,
  reportDigest,
  unarmor,
  usageReport,
  verifyReceipt,
} from "../verifiers/ts/dist/esm/index.js";

const DAY = 86_400;
const START = 1_735_689_600; // 2025-01-01T00:00:00Z
const TARGET = 0.8;
const quick = process.argv.includes("--quick");
const [rounds, number] = quick ? [8, 50] : [30, 200];

// A throwaway installation key and a year of counts.
const key = newInstallationKey();
const privateKey = createPrivateKey(key.privatePem()); // the same key, for the bare baseline
const daily = Array.from({ length: 365 }, (_, i) => [START + i * DAY, 40 + ((i * 37) % 113)]);
const fields = {
  licenseId: "lic_01HZX5Q3M9ZK8W2YV7T4N6P0AB",
  installationId: "inst-7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c3f",
  seq: 12,
  prev: createHash("sha256").update("the last report").digest("base64url"),
  periodStart: START,
  periodEnd: START + 365 * DAY,
  daily,
  now: START + 365 * DAY + 60,
};
const report = usageReport(key, fields);
const compact = unarmor(report, "LICENSE USAGE REPORT");
const reportInput = Buffer.from(compact.slice(0, compact.lastIndexOf(".")));

// The vendor's receipt for it, signed by a throwaway service key.
const service = generateKeyPairSync("ed25519");
const x = service.publicKey.export({ format: "jwk" }).x;
const kid = "bench-key";
const keyring = parseKeyring({ keys: [{ kty: "OKP", crv: "Ed25519", x, kid, use: "sig", alg: "EdDSA" }] });
const b64 = (data) => Buffer.from(data).toString("base64url");
const digest = reportDigest(report);
const receiptClaims = {
  ver: 1,
  iss: "Example Licensing",
  iat: fields.now + 3600,
  installation_id: fields.installationId,
  license_id: fields.licenseId,
  seq: fields.seq,
  report: digest,
  peak_users: 152,
  seats: 100,
  overage: 52,
  gap: false,
};
const receiptInput = `${b64(JSON.stringify({ alg: "EdDSA", kid, typ: "license-usage-receipt+jwt" }))}.${b64(JSON.stringify(receiptClaims))}`;
const receiptSignature = sign(null, Buffer.from(receiptInput), service.privateKey);
const receiptCompact = `${receiptInput}.${b64(receiptSignature)}`;
const receipt = `-----BEGIN LICENSE USAGE RECEIPT-----\n${receiptCompact.match(/.{1,64}/g).join("\n")}\n-----END LICENSE USAGE RECEIPT-----\n`;
if (verifyReceipt(receipt, keyring, { reportDigest: digest }).overage !== 52) throw new Error("the receipt did not verify");
const servicePublic = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
const receiptSigned = Buffer.from(receiptInput);

const pairs = {
  making: {
    library: () => usageReport(key, fields),
    bare: () => sign(null, reportInput, privateKey),
  },
  checking: {
    library: () => verifyReceipt(receipt, keyring, { reportDigest: digest }),
    bare: () => {
      if (!cryptoVerify(null, receiptSigned, servicePublic, receiptSignature)) throw new Error("bare verify failed");
    },
  },
};

const perCall = (f, n) => {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  return Number(process.hrtime.bigint() - start) / 1e9 / n;
};
const best = (list) => Math.min(...list);
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];

console.log(`Node ${process.version}, OpenSSL ${process.versions.openssl}`);
console.log(`a report of ${daily.length} days: ${report.length} characters; ${rounds} rounds of ${number} calls each, alternating\n`);
console.log(`${"".padEnd(44)} ${"best µs/call".padStart(13)} ${"median µs/call".padStart(15)}`);
let missed = false;
for (const [name, { library, bare }] of Object.entries(pairs)) {
  perCall(library, number); // warm up both (the JIT too)
  perCall(bare, number);
  const times = { library: [], bare: [] };
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? ["library", "bare"] : ["bare", "library"];
    for (const which of order) times[which].push(perCall(which === "library" ? library : bare, number));
  }
  const label = name === "making" ? ["usageReport() (a year)", "crypto.sign() Ed25519 (bare)"] : ["verifyReceipt()", "crypto.verify() Ed25519 (bare)"];
  console.log(`${label[0].padEnd(44)} ${(best(times.library) * 1e6).toFixed(1).padStart(13)} ${(median(times.library) * 1e6).toFixed(1).padStart(15)}`);
  console.log(`${label[1].padEnd(44)} ${(best(times.bare) * 1e6).toFixed(1).padStart(13)} ${(median(times.bare) * 1e6).toFixed(1).padStart(15)}`);
  const ratio = best(times.bare) / best(times.library);
  const ratioMedian = median(times.bare) / median(times.library);
  const ok = ratio >= TARGET;
  missed ||= !ok;
  console.log(`${name}: rate ratio ${ratio.toFixed(2)} (best rounds), ${ratioMedian.toFixed(2)} (median); target >= ${TARGET}: ${ok ? "met" : "MISSED"}\n`);
}

// For information: UsageLog.export end to end, the durable write included.
const dir = mkdtempSync(join(tmpdir(), "airgap-bench-"));
try {
  const exports = [];
  for (let r = 0; r < (quick ? 3 : 10); r++) {
    const log = UsageLog.open(join(dir, `usage-${r}.json`), key, "e30." + b64(JSON.stringify({ jti: fields.licenseId, installation_id: fields.installationId })) + ".e30");
    for (const [day, users] of daily) log.record(users, day);
    const start = process.hrtime.bigint();
    log.export(START + 364 * DAY);
    exports.push(Number(process.hrtime.bigint() - start) / 1e3);
  }
  console.log(`UsageLog.export() of a year, with its durable write (${tmpdir()}): best ${best(exports).toFixed(0)} µs, median ${median(exports).toFixed(0)} µs`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = missed ? 1 : 0;
