/**
 * The `mloop` executable over the current tree without a build: src/ transpiled module by module
 * (as `tsc` would emit it; type-checking is `tsc --noEmit`'s job) beside a copy of bin/mloop.js.
 * Tests use it to run real subprocesses they can signal and kill.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

const REPO = path.resolve(import.meta.dirname, "../..");

export function buildScratchCli(tag: string): { bin: string; remove(): void } {
  // Inside node_modules so the compiled files resolve the project's dependencies.
  const scratch = path.join(REPO, "node_modules", ".cache", `mloop-${tag}-${process.pid}-${Date.now()}`);
  fs.mkdirSync(path.join(scratch, "bin"), { recursive: true });
  fs.copyFileSync(path.join(REPO, "bin", "mloop.js"), path.join(scratch, "bin", "mloop.js"));
  fs.copyFileSync(path.join(REPO, "package.json"), path.join(scratch, "package.json"));
  fs.cpSync(path.join(REPO, "python"), path.join(scratch, "python"), { recursive: true });
  const src = path.join(REPO, "src");
  for (const rel of fs.readdirSync(src, { recursive: true, encoding: "utf8" })) {
    if (!rel.endsWith(".ts") || rel.endsWith(".test.ts") || rel.endsWith(".d.ts")) continue;
    const out = ts.transpileModule(fs.readFileSync(path.join(src, rel), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true },
      fileName: rel,
    });
    const target = path.join(scratch, "dist", rel.replace(/\.ts$/, ".js"));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, out.outputText);
  }
  return { bin: path.join(scratch, "bin", "mloop.js"), remove: () => fs.rmSync(scratch, { recursive: true, force: true }) };
}
