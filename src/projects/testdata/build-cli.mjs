// Transpiles src/ into a scratch folder inside node_modules (so dependencies resolve) and
// prints the path of the runnable bin/mloop.js there. Used by the project tests to run
// `mloop run` as a real subprocess that can be signalled.
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

export function buildCli(repo, scratch) {
  fs.mkdirSync(path.join(scratch, "bin"), { recursive: true });
  fs.copyFileSync(path.join(repo, "bin", "mloop.js"), path.join(scratch, "bin", "mloop.js"));
  fs.copyFileSync(path.join(repo, "package.json"), path.join(scratch, "package.json"));
  const src = path.join(repo, "src");
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
  return path.join(scratch, "bin", "mloop.js");
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const repo = path.resolve(import.meta.dirname, "../../..");
  process.stdout.write(buildCli(repo, path.join(repo, "node_modules", ".cache", "mloop-projects-dev")) + "\n");
}
