#!/usr/bin/env node
// Drives the air-gapped exchanges of the built package (dist/, made by `make test-ts` or `npm run
// build`) from outside, for tests and by hand. Never the network.
//
//   node scripts/airgap.mjs key OUT.pem
//   node scripts/airgap.mjs request --key K.pem --installation ID --license FILE [--product-version V]
//                                   (or --license-id LIC in place of --license FILE)
//   node scripts/airgap.mjs record --log F --key K.pem --license FILE --users N [--at RFC3339] [--installation ID]
//   node scripts/airgap.mjs export --log F --key K.pem --license FILE [--until RFC3339] [--installation ID]
//   node scripts/airgap.mjs receipt --jwks F [--report-digest D] FILE
//   node scripts/airgap.mjs compare --jwks F --at RFC3339 [--installation ID] OLD NEW
//
// key writes a new installation key (PKCS#8 PEM, mode 0600; an existing file is never overwritten)
// and prints {"thumbprint", "jwk"}; request and export print the armored file; receipt prints the
// receipt's fields as JSON; compare verifies both licenses at --at (a bound license with its own
// installation id, or --installation) and prints the comparison's lines. A refused file exits 1 with
// "CODE: message" on stderr; a usage mistake exits 2.

import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

import {
  AirgapError,
  InstallationKey,
  KeyringError,
  LicenseError,
  UsageLog,
  activationRequest,
  compare,
  newInstallationKey,
  parseKeyring,
  verify,
  verifyReceipt,
} from "licensing-verifier";

class Usage extends Error {}

const COMMANDS = {
  key: { options: {}, positionals: 1 },
  request: {
    options: { key: "string", installation: "string", license: "string", "license-id": "string", "product-version": "string" },
    required: ["key", "installation"],
    positionals: 0,
  },
  record: {
    options: { log: "string", key: "string", license: "string", users: "string", at: "string", installation: "string" },
    required: ["log", "key", "license", "users"],
    positionals: 0,
  },
  export: {
    options: { log: "string", key: "string", license: "string", until: "string", installation: "string" },
    required: ["log", "key", "license"],
    positionals: 0,
  },
  receipt: { options: { jwks: "string", "report-digest": "string" }, required: ["jwks"], positionals: 1 },
  compare: { options: { jwks: "string", at: "string", installation: "string" }, required: ["jwks", "at"], positionals: 2 },
};

function parse(argv) {
  const [name, ...rest] = argv;
  const command = COMMANDS[name];
  if (command === undefined) throw new Usage(`a command: ${Object.keys(COMMANDS).join(", ")}`);
  const options = Object.fromEntries(Object.entries(command.options).map(([k, type]) => [k, { type }]));
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new Usage(error.message);
  }
  for (const option of command.required ?? []) {
    if (parsed.values[option] === undefined) throw new Usage(`${name} needs --${option}`);
  }
  if (parsed.positionals.length !== command.positionals) {
    throw new Usage(`${name} takes ${command.positionals} file name(s), not ${parsed.positionals.length}`);
  }
  return { name, values: parsed.values, files: parsed.positionals };
}

function time(text, option) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    throw new Usage(`--${option} must be an RFC 3339 time (2025-06-01T00:00:00Z), not ${JSON.stringify(text)}`);
  }
  return new Date(text);
}

const read = (file) => readFileSync(file);
const keyOf = (file) => InstallationKey.fromPem(read(file));

/** The license's own installation id, read without verifying (verify() checks it after). */
function boundTo(text) {
  const payload = text.toString("utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, "").split(".")[1] ?? "";
  try {
    const id = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")).installation_id;
    return typeof id === "string" ? id : null;
  } catch {
    return null;
  }
}

function run({ name, values, files }) {
  switch (name) {
    case "key": {
      const key = newInstallationKey();
      writeFileSync(files[0], key.privatePem(), { mode: 0o600, flag: "wx" });
      return JSON.stringify({ thumbprint: key.thumbprint, jwk: key.publicJwk });
    }
    case "request":
      if ((values.license === undefined) === (values["license-id"] === undefined)) {
        throw new Usage("request needs --license FILE or --license-id LIC (one of them)");
      }
      return activationRequest(keyOf(values.key), values.installation, {
        licenseText: values.license === undefined ? null : read(values.license),
        licenseId: values["license-id"] ?? null,
        productVersion: values["product-version"] ?? null,
      }).trimEnd();
    case "record":
    case "export": {
      const log = UsageLog.open(values.log, keyOf(values.key), read(values.license), {
        installationId: values.installation ?? null,
      });
      if (name === "export") return log.export(values.until === undefined ? undefined : time(values.until, "until")).trimEnd();
      if (!/^\d+$/.test(values.users)) throw new Usage(`--users must be a whole number, not ${JSON.stringify(values.users)}`);
      log.record(Number(values.users), values.at === undefined ? undefined : time(values.at, "at"));
      return null;
    }
    case "receipt": {
      const receipt = verifyReceipt(read(files[0]), parseKeyring(read(values.jwks)), {
        reportDigest: values["report-digest"] ?? null,
      });
      return JSON.stringify({
        issuer: receipt.issuer,
        issued_at: receipt.issuedAt.toISOString().replace(".000Z", "Z"),
        installation_id: receipt.installationId,
        license_id: receipt.licenseId,
        seq: receipt.seq,
        report: receipt.report,
        peak_users: receipt.peakUsers,
        seats: receipt.seats,
        overage: receipt.overage,
        gap: receipt.gap,
        key_id: receipt.keyId,
      });
    }
    case "compare": {
      const keyring = parseKeyring(read(values.jwks));
      const now = time(values.at, "at");
      const [old, fresh] = files.map((file, i) => {
        const text = read(file);
        const installationId = (i === 1 ? values.installation : undefined) ?? boundTo(text);
        return verify(text, keyring, { now, installationId });
      });
      return compare(old, fresh).lines.join("\n");
    }
  }
  throw new Usage(name);
}

try {
  const output = run(parse(process.argv.slice(2)));
  if (output !== null) process.stdout.write(`${output}\n`);
} catch (error) {
  if (error instanceof Usage) {
    process.stderr.write(`usage: ${error.message}\n`);
    process.exitCode = 2;
  } else if (error instanceof LicenseError || error instanceof AirgapError) {
    process.stderr.write(`${error.code}: ${error.message}\n`);
    process.exitCode = 1;
  } else if (error instanceof KeyringError || error instanceof TypeError || error instanceof RangeError || error?.code === "ENOENT" || error?.code === "EEXIST") {
    process.stderr.write(`error: ${error.message}\n`);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
