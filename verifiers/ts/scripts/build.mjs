// Builds the package: dist/esm (ES modules) and dist/cjs (CommonJS), each with type declarations.
// With --tests, also compiles src and test into build/ for the node test runner.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
if (!existsSync(tsc)) {
  // A fresh clone: npm pack (prepack) and npm run build need the locked build tools first.
  process.stderr.write("licensing-verifier: the build tools are not installed: run `npm ci` in verifiers/ts first (or `make test-ts` from the repository root).\n");
  process.exit(1);
}
const run = (project) => execFileSync(process.execPath, [tsc, "-p", join(root, project)], { stdio: "inherit" });

rmSync(join(root, "dist"), { recursive: true, force: true });
run("tsconfig.esm.json");
run("tsconfig.cjs.json");
mkdirSync(join(root, "dist", "cjs"), { recursive: true });
writeFileSync(join(root, "dist", "cjs", "package.json"), '{\n  "type": "commonjs"\n}\n');
if (process.argv.includes("--tests")) {
  rmSync(join(root, "build"), { recursive: true, force: true });
  run("tsconfig.test.json");
}
