// How fast the TypeScript verifier is, against a baseline measured in the same run.
//
//     node benchmarks/verify_ts.mjs [--quick]      (after `npm run build` in verifiers/ts)
//
// Verification rate: verify() of the built package on a typical license (professional, 250 seats,
// six features, a customer, bound to an installation) against a bare node:crypto Ed25519 verify of
// the same signing input and signature with the same key object: the signature check any verifier
// must do. Rounds alternate between the two; the ratio of rates (full / bare) is reported for the
// best and the median round. Target: at least 0.8.
//
// A benchmark, not a test: it prints figures and never fails on them.

import { createPublicKey, generateKeyPairSync, sign, verify as cryptoVerify } from "node:crypto";
import { parseKeyring, verify, jwkThumbprint } from "../verifiers/ts/dist/esm/index.js";

const NOW = 1_750_000_000;
const DAY = 86_400;
const INSTALLATION = "inst-7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c3f";
const quick = process.argv.includes("--quick");
const [rounds, number] = quick ? [10, 300] : [60, 1000];

// A throwaway key (benchmark only), the keyring a product would bundle, and a typical license.
const { publicKey, privateKey } = generateKeyPairSync("ed25519");
const x = publicKey.export({ format: "jwk" }).x;
const kid = jwkThumbprint(x);
const keyring = parseKeyring(JSON.stringify({ keys: [{ kty: "OKP", crv: "Ed25519", x, kid, use: "sig" }] }));
const claims = {
  iss: "Example Licensing",
  jti: "lic_01HZX5Q3M9ZK8W2YV7T4N6P0AB",
  sub: "cus_01HZX5Q3M9ZK8W2YV7T4N6P0CD",
  ver: 1,
  iat: NOW - 30 * DAY,
  nbf: NOW - 30 * DAY,
  exp: NOW + 335 * DAY,
  tier: "professional",
  trial: false,
  seats: 250,
  features: ["custom_branding", "guest_accounts", "ldap", "mfa_enforcement", "openid", "saml"],
  grace_days: 10,
  customer: { name: "Ada Lovelace", email: "ada@example.com", company: "Example Ltd" },
  installation_id: INSTALLATION,
  subscription_id: "sub_1PqRsTuVwXyZ",
};
const b64 = (data) => Buffer.from(data).toString("base64url");
const signingInput = `${b64(JSON.stringify({ alg: "EdDSA", typ: "license+jwt", kid }))}.${b64(JSON.stringify(claims))}`;
const signature = sign(null, Buffer.from(signingInput), privateKey);
const compact = `${signingInput}.${b64(signature)}`;
const text = `-----BEGIN LICENSE FILE-----\n${compact.match(/.{1,64}/g).join("\n")}\n-----END LICENSE FILE-----\n`;
const options = { now: NOW, installationId: INSTALLATION };

const lic = verify(text, keyring, options);
if (lic.status !== "valid" || lic.seats !== 250 || lic.features.length !== 6) throw new Error("the typical license did not verify");
const key = createPublicKey({ key: publicKey.export({ format: "jwk" }), format: "jwk" });
const signed = Buffer.from(signingInput);
const full = () => verify(text, keyring, options);
const bare = () => {
  if (!cryptoVerify(null, signed, key, signature)) throw new Error("bare verify failed");
};
const perCall = (f, n) => {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  return Number(process.hrtime.bigint() - start) / 1e9 / n;
};
perCall(full, number); // warm up both (the JIT too)
perCall(bare, number);
const times = { full: [], bare: [] };
for (let i = 0; i < rounds; i++) {
  const order = i % 2 === 0 ? ["full", "bare"] : ["bare", "full"];
  for (const name of order) times[name].push(perCall(name === "full" ? full : bare, number));
}
const best = (list) => Math.min(...list);
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const row = (label, list) =>
  `${label.padEnd(34)} ${(best(list) * 1e6).toFixed(1).padStart(13)} ${(median(list) * 1e6).toFixed(1).padStart(15)} ${Math.round(1 / best(list)).toString().padStart(13)}`;

console.log(`Node ${process.version}, OpenSSL ${process.versions.openssl}, ${text.length} license characters`);
console.log(`verification: ${rounds} rounds of ${number} calls each, alternating\n`);
console.log(`${"".padEnd(34)} ${"best µs/call".padStart(13)} ${"median µs/call".padStart(15)} ${"best calls/s".padStart(13)}`);
console.log(row("verify() (full)", times.full));
console.log(row("crypto.verify() Ed25519 (bare)", times.bare));
console.log(
  `${"overhead of verify()".padEnd(34)} ${((best(times.full) - best(times.bare)) * 1e6).toFixed(1).padStart(13)} ${((median(times.full) - median(times.bare)) * 1e6).toFixed(1).padStart(15)}`,
);
console.log("\nsummary");
console.log(`  TypeScript verification rate ratio full/bare (best rounds):   ${(best(times.bare) / best(times.full)).toFixed(3)}  target >= 0.8`);
console.log(`  TypeScript verification rate ratio full/bare (median rounds): ${(median(times.bare) / median(times.full)).toFixed(3)}  target >= 0.8`);
