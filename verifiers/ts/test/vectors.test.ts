// The conformance vectors (tests/vectors/manifest.json), replayed in full against the built
// package (its ES module build, imported by name): the same suite the Python and Go verifiers replay.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";

import {
  ERROR_CODES,
  KeyringError,
  License,
  LicenseError,
  RevocationList,
  loadRevocations,
  parseKeyring,
  verify,
  type Keyring,
  type VerifyOptions,
} from "licensing-verifier";

const VECTORS =
  process.env["LICENSING_VECTORS"] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "tests", "vectors");

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Pad = { to: number; with: string };
interface Vector {
  name: string;
  file: string;
  at: string | number;
  installation_id?: string;
  revocations?: string;
  revocations_pad?: Pad;
  jwks?: string;
  pad?: Pad;
  expect: { [key: string]: Json };
}
interface ListVector {
  name: string;
  file: string;
  pad?: Pad;
  expect: { [key: string]: Json };
}
interface KeyringVector {
  name: string;
  jwks: string;
  expect: { [key: string]: Json };
}
interface Flips {
  name: string;
  kind: "license" | "revocations";
  file: string;
  at?: number;
  installation_id?: string;
  rows: [number, number, string][];
}
interface Manifest {
  jwks: string;
  vectors: Vector[];
  revocation_lists: ListVector[];
  keyrings: KeyringVector[];
  flips: Flips[];
}

const manifest = JSON.parse(readFileSync(join(VECTORS, "manifest.json"), "utf8")) as Manifest;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function fileBytes(name: string, pad?: Pad): Uint8Array {
  const data = new Uint8Array(readFileSync(join(VECTORS, name)));
  if (pad === undefined) return data;
  const text = utf8.decode(data);
  const have = [...text].length;
  assert.ok(have <= pad.to);
  return new TextEncoder().encode(text + pad.with.repeat(pad.to - have));
}

/** The input as bytes, and as text when it is UTF-8. */
function forms(data: Uint8Array): (string | Uint8Array)[] {
  try {
    return [data, utf8.decode(data)];
  } catch {
    return [data];
  }
}

const keyrings = new Map<string, Keyring>();
function keyringOf(name: string): Keyring {
  let keyring = keyrings.get(name);
  if (keyring === undefined) {
    keyring = parseKeyring(readFileSync(join(VECTORS, name)));
    keyrings.set(name, keyring);
  }
  return keyring;
}

function when(at: string | number): Date | number {
  return typeof at === "number" ? at : new Date(at);
}

function rfc3339(at: Date | null): string | null {
  return at === null ? null : at.toISOString().replace(".000Z", "Z");
}

function rejection(error: unknown): { [key: string]: Json } {
  if (!(error instanceof LicenseError)) throw error;
  assert.ok(ERROR_CODES.includes(error.code), error.code);
  assert.ok(error.message.length > 0);
  assert.equal(error.cause, undefined, `rejected by the safety net: ${String(error.cause)}`);
  return { ok: false, code: error.code };
}

function licenseView(lic: License): { [key: string]: Json } {
  return {
    ok: true,
    status: lic.status,
    id: lic.id,
    expires_at: rfc3339(lic.expiresAt),
    grace_ends_at: rfc3339(lic.graceEndsAt),
    issued_at: rfc3339(lic.issuedAt),
    not_before: rfc3339(lic.notBefore),
    issuer: lic.issuer,
    subject: lic.subject,
    tier: lic.tier,
    trial: lic.trial,
    seats: lic.seats,
    features: [...lic.features],
    grace_days: lic.graceDays,
    customer: { name: lic.customer.name ?? "", email: lic.customer.email ?? "", company: lic.customer.company ?? "" },
    installation_id: lic.installationId,
    subscription_id: lic.subscriptionId,
    supersedes: lic.supersedes,
    key_id: lic.keyId,
  };
}

function listView(list: RevocationList): { [key: string]: Json } {
  const revoked: { [key: string]: Json } = {};
  for (const id of list.ids()) revoked[id] = rfc3339(list.revokedAt(id) ?? null);
  return {
    ok: true,
    issuer: list.issuer,
    issued_at: rfc3339(list.issuedAt),
    seq: list.seq,
    count: list.length,
    revoked,
    key_id: list.keyId,
  };
}

/** What TypeScript holds of an expected integer past 2^53 - 1 (README: seats and seq saturate). */
function saturated(expect: { [key: string]: Json }, name: string): { [key: string]: Json } {
  const value = expect[name];
  return typeof value === "number" && value > Number.MAX_SAFE_INTEGER ? { ...expect, [name]: Number.MAX_SAFE_INTEGER } : expect;
}

test("license vectors", async (t) => {
  for (const vector of manifest.vectors) {
    await t.test(vector.name, () => {
      const keyring = keyringOf(vector.jwks ?? manifest.jwks);
      for (const text of forms(fileBytes(vector.file, vector.pad))) {
        let got: { [key: string]: Json } | undefined;
        const options: VerifyOptions = { now: when(vector.at), installationId: vector.installation_id ?? null };
        if (vector.revocations !== undefined) {
          try {
            options.revocations = loadRevocations(fileBytes(vector.revocations, vector.revocations_pad), keyring);
          } catch (error) {
            got = rejection(error);
          }
        }
        if (got === undefined) {
          try {
            got = licenseView(verify(text, keyring, options));
          } catch (error) {
            got = rejection(error);
          }
        }
        assert.deepEqual(got, saturated(vector.expect, "seats"), typeof text);
      }
    });
  }
});

test("revocation list vectors", async (t) => {
  const keyring = keyringOf(manifest.jwks);
  for (const vector of manifest.revocation_lists) {
    await t.test(vector.name, () => {
      for (const text of forms(fileBytes(vector.file, vector.pad))) {
        let got: { [key: string]: Json };
        try {
          got = listView(loadRevocations(text, keyring));
        } catch (error) {
          got = rejection(error);
        }
        assert.deepEqual(got, saturated(vector.expect, "seq"), typeof text);
      }
    });
  }
});

test("keyring vectors", async (t) => {
  for (const vector of manifest.keyrings) {
    await t.test(vector.name, () => {
      let got: { [key: string]: Json };
      try {
        got = { ok: true, kids: parseKeyring(new TextEncoder().encode(vector.jwks)).keyIds };
      } catch (error) {
        if (!(error instanceof KeyringError)) throw error;
        got = { ok: false };
      }
      assert.deepEqual(got, vector.expect);
    });
  }
});

test("byte flips", async (t) => {
  const keyring = keyringOf(manifest.jwks);
  for (const flips of manifest.flips) {
    await t.test(flips.name, () => {
      const data = fileBytes(flips.file);
      const read = (d: Uint8Array): unknown =>
        flips.kind === "license"
          ? verify(d, keyring, { now: flips.at ?? 0, installationId: flips.installation_id ?? null }).claims
          : listView(loadRevocations(d, keyring));
      const original = read(data);
      assert.equal(flips.rows.length, 3 * data.length);
      const wrong: string[] = [];
      for (const [offset, xor, expected] of flips.rows) {
        const mutated = new Uint8Array(data);
        mutated[offset] = (mutated[offset] as number) ^ xor;
        let got: string;
        try {
          const result = read(mutated);
          got = isDeepStrictEqual(result, original) ? "ok" : "accepted as another file";
        } catch (error) {
          got = rejection(error)["code"] as string;
        }
        if (got !== expected) wrong.push(`byte ${offset} ^ ${xor}: ${got}, expected ${expected}`);
      }
      assert.deepEqual(wrong.slice(0, 40), []);
    });
  }
});

test("the suite is whole", () => {
  assert.ok(manifest.vectors.length >= 250 && manifest.revocation_lists.length >= 30 && manifest.keyrings.length >= 20);
  assert.equal(manifest.flips.length, 2);
  const expected = manifest.vectors.map((v) => v.expect);
  assert.deepEqual(new Set(expected.filter((e) => !e["ok"]).map((e) => e["code"])), new Set(ERROR_CODES));
  assert.ok(manifest.vectors.every((v) => v.expect["ok"] === false || v.expect["status"] !== undefined));
});

