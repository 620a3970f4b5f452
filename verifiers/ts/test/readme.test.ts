// The README's TypeScript instructions, as a new user on a fresh clone follows them: `npm pack` before
// `npm ci` stops with one clear line; `npm ci && npm pack` makes the tarball; the product installs it.
// Then every TypeScript snippet of the README, verifiers/ts/README.md and docs/verifiers.md, as
// written, type-checked strictly in that product and run with node. What a snippet leaves to the
// product (the bundled JWKS, the license text, show(), use()) is given real values: license files
// signed by the vectors' test key, a receipt for the report the snippet itself exported.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const ROOT = join(PACKAGE, "..", "..");
const VECTORS = join(ROOT, "tests", "vectors");
const PAGES = ["README.md", "verifiers/ts/README.md", "docs/verifiers.md"];
const TMP = mkdtempSync(join(tmpdir(), "readme-snippets-"));
after(() => rmSync(TMP, { recursive: true, force: true }));

interface Snippet {
  page: string;
  line: number;
  code: string;
}

function snippets(): Snippet[] {
  const found: Snippet[] = [];
  for (const page of PAGES) {
    const lines = readFileSync(join(ROOT, page), "utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]?.trim() !== "```ts") continue;
      const start = i + 1;
      let end = start;
      while (end < lines.length && lines[end]?.trim() !== "```") end++;
      found.push({ page, line: start, code: lines.slice(start, end).join("\n") });
      i = end;
    }
  }
  return found;
}

// What the snippets leave to the product, with the type a program would give it.
const GIVEN: Record<string, string> = {
  bundledJwksText: "string",
  licenseText: "string",
  revocationListText: "string",
  thisInstallationId: "string",
  installationId: "string",
  boundLicenseText: "string",
  newLicenseText: "string",
  receiptText: "string",
  activeUsers: "number",
};

/** Defines the givens on globalThis, lazily: a receipt can only be made once the snippet has exported its report. */
const SETUP = String.raw`
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { InstallationKey, UsageLog, reportDigest } from "licensing-verifier";

const vectors = process.env.VECTORS;
// The issuer's key in these snippets, made for each run (no private key is committed); the product's
// bundled JWKS holds it beside the vectors' key, which signed the revocation list.
const { privateKey: service, publicKey } = generateKeyPairSync("ed25519");
const x = publicKey.export({ format: "jwk" }).x;
const kid = createHash("sha256").update(JSON.stringify({ crv: "Ed25519", kty: "OKP", x })).digest("base64url");
const b64 = (text) => Buffer.from(text).toString("base64url");
function signed(typ, label, claims) {
  const input = b64(JSON.stringify({ alg: "EdDSA", kid, typ })) + "." + b64(JSON.stringify(claims));
  const compact = input + "." + sign(null, Buffer.from(input), service).toString("base64url");
  return "-----BEGIN " + label + "-----\n" + compact.match(/.{1,64}/g).join("\n") + "\n-----END " + label + "-----\n";
}
const now = Math.floor(Date.now() / 1000);
const license = (changes) => signed("license+jwt", "LICENSE FILE", {
  iss: "readme", jti: "lic_1", sub: "cus_1", ver: 1, iat: now - 86400, nbf: now - 86400, exp: now + 300 * 86400,
  tier: "professional", trial: false, seats: 10, features: ["saml"], grace_days: 10,
  customer: { name: "Ada", email: "ada@acme-1a2b.example", company: "Acme" }, ...changes,
});
const key = () => InstallationKey.fromPem(readFileSync("installation.pem"));
const bound = () => license({ jti: "lic_2", supersedes: "lic_1", installation_id: "inst-1", cnf: { jkt: key().thumbprint } });
const givens = {
  bundledJwksText: () => {
    const bundled = JSON.parse(readFileSync(vectors + "/jwks.json", "utf8"));
    return JSON.stringify({ keys: [...bundled.keys, { kty: "OKP", crv: "Ed25519", x }] });
  },
  revocationListText: () => readFileSync(vectors + "/rev-seq.lic", "utf8"),
  licenseText: () => license({}),
  thisInstallationId: () => "inst-1",
  installationId: () => "inst-1",
  activeUsers: () => 12,
  boundLicenseText: bound,
  newLicenseText: () => license({ jti: "lic_3", supersedes: "lic_2", iat: now, seats: 25, installation_id: "inst-1", cnf: { jkt: key().thumbprint } }),
  receiptText: () => {
    const log = UsageLog.open("usage.json", key(), bound());
    return signed("license-usage-receipt+jwt", "LICENSE USAGE RECEIPT", {
      ver: 1, iss: "readme", iat: now, installation_id: "inst-1", license_id: "lic_2", seq: log.seq,
      report: reportDigest(log.lastReport), peak_users: 12, seats: 10, overage: 2, gap: false,
    });
  },
};
for (const [name, make] of Object.entries(givens)) Object.defineProperty(globalThis, name, { get: make });
globalThis.calls = [];
globalThis.use = (...values) => globalThis.calls.push(["use", values.length]);
globalThis.show = (code, message) => globalThis.calls.push(["show", code, message]);
process.on("exit", () => console.error("calls " + JSON.stringify(globalThis.calls)));
`;

function declared(code: string, name: string): boolean {
  return new RegExp(`\\b(?:const|let|var|function|class)\\s+${name}\\b|import\\s*\\{[^}]*\\b${name}\\b[^}]*\\}`).test(code);
}

function prelude(code: string): string {
  const lines = ['import "./setup.mjs";'];
  for (const [name, type] of Object.entries(GIVEN)) if (!declared(code, name)) lines.push(`declare const ${name}: ${type};`);
  if (!declared(code, "use")) lines.push("declare function use(...values: unknown[]): void;");
  if (!declared(code, "show")) lines.push("declare function show(code: string, message: string): void;");
  return `${lines.join(" ")}\n`; // one line: the snippet's line numbers are its page's, less one
}

test("the README's commands on a fresh clone, then every TypeScript snippet of the README and the docs, type-checked and run against the tarball", () => {
  const found = snippets();
  assert.ok(found.filter((s) => s.page === "README.md").length >= 2, "the README's TypeScript part");
  assert.ok(found.some((s) => s.code.includes("UsageLog.open")), "an air-gapped snippet");

  // The README's commands on a fresh clone: npm pack says what is missing, then npm ci and npm pack.
  const clone = join(TMP, "clone");
  mkdirSync(clone);
  for (const name of ["package.json", "package-lock.json", "README.md", "scripts", "src", "tsconfig.json", "tsconfig.esm.json", "tsconfig.cjs.json"]) {
    cpSync(join(PACKAGE, name), join(clone, name), { recursive: true });
  }
  const early = spawnSync("npm", ["pack"], { cwd: clone, encoding: "utf8" });
  assert.notEqual(early.status, 0);
  assert.match(early.stderr, /^licensing-verifier: the build tools are not installed: run `npm ci` in verifiers\/ts first/m);
  assert.doesNotMatch(early.stderr, /\n\s+at /); // no stack trace
  assert.ok(!existsSync(join(clone, "dist")));
  assert.match(readFileSync(join(ROOT, "README.md"), "utf8"), /cd verifiers\/ts && npm ci && npm pack/);
  // --offline: the test never reaches the registry; make test-ts's own npm ci filled npm's cache.
  execFileSync("npm", ["ci", "--offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: clone, stdio: ["ignore", "pipe", "pipe"] });
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--loglevel=error"], { cwd: clone, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
  ) as { filename: string; files: { path: string }[] }[];
  const tarball = join(clone, packed[0]!.filename);
  assert.ok(existsSync(tarball));
  const paths = packed[0]!.files.map((f) => f.path);
  assert.ok(paths.includes("dist/esm/airgap.js") && paths.includes("dist/cjs/airgap.js") && paths.includes("dist/esm/index.d.ts"));
  assert.ok(!paths.some((p) => p.startsWith("src/") || p.startsWith("test/") || p.startsWith("build/")), paths.join(" "));

  const product = join(TMP, "product");
  mkdirSync(product);
  writeFileSync(join(product, "package.json"), JSON.stringify({ name: "product", private: true, type: "module" }));
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error", tarball], { cwd: product, stdio: ["ignore", "pipe", "pipe"] });
  assert.deepEqual(readdirSync(join(product, "node_modules")).filter((n) => !n.startsWith(".")), ["licensing-verifier"]); // no runtime dependency
  writeFileSync(join(product, "setup.mjs"), SETUP);

  // Type-check every snippet at once, strictly, as the product's own code.
  const files = found.map((snippet, i) => {
    const file = join(product, `snippet-${i}.ts`);
    writeFileSync(file, prelude(snippet.code) + snippet.code + "\n");
    return file;
  });
  const ts = createRequire(join(PACKAGE, "package.json"))("typescript") as typeof import("typescript");
  const options: import("typescript").CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ["node"],
    typeRoots: [join(PACKAGE, "node_modules", "@types")],
    allowJs: true,
  };
  const program = ts.createProgram(files, options);
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line}` : "";
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
  });
  assert.deepEqual(problems, []);

  // Run each in a fresh directory of its own (the air-gapped one writes installation.pem and usage.json).
  for (const [i, snippet] of found.entries()) {
    const dir = join(product, `run-${i}`);
    mkdirSync(dir);
    const js = ts.transpileModule(readFileSync(files[i]!, "utf8"), { compilerOptions: { ...options, noEmit: false, module: ts.ModuleKind.ES2022 } }).outputText;
    writeFileSync(join(product, `snippet-${i}.mjs`), js);
    const result = spawnSync(process.execPath, [join(product, `snippet-${i}.mjs`)], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, VECTORS },
    });
    const where = `${snippet.page}:${snippet.line}`;
    assert.equal(result.status, 0, `${where}: ${result.stderr}`);
    const calls = JSON.parse(/calls (.*)$/m.exec(result.stderr)?.[1] ?? "null") as unknown[][];
    assert.ok(Array.isArray(calls), where);
    // A snippet that verifies a license reaches use() with a valid one, never show() with an error.
    assert.ok(!calls.some((c) => c[0] === "show"), `${where}: ${JSON.stringify(calls)}`);
    if (snippet.code.includes("UsageLog.open")) {
      assert.ok(existsSync(join(dir, "usage.json")) && existsSync(join(dir, "installation.pem")), where);
      assert.match(result.stdout, /^seats: 10 -> 25$/m, where);
    }
  }
});
