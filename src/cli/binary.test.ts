/**
 * The real executable: `node bin/mloop.js` over this tree transpiled into a
 * scratch folder, run as a subprocess against a listening server.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../test/helpers/app.js";
import { deadUri, listenTestApp } from "../../test/helpers/cli.js";

const repo = path.resolve(import.meta.dirname, "../..");
// Inside node_modules so the compiled files resolve the project's dependencies.
const scratch = path.join(repo, "node_modules", ".cache", `mloop-bin-test-${process.pid}`);
let server: TestApp & { uri: string };

beforeAll(async () => {
  fs.mkdirSync(path.join(scratch, "bin"), { recursive: true });
  fs.copyFileSync(path.join(repo, "bin", "mloop.js"), path.join(scratch, "bin", "mloop.js"));
  fs.copyFileSync(path.join(repo, "package.json"), path.join(scratch, "package.json"));
  // Type-checking is `tsc --noEmit`'s job; here each module is only transpiled, as the build would emit it.
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
  server = await listenTestApp();
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

function mloop(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(scratch, "bin", "mloop.js"), ...args], { env: { ...process.env, MLFLOW_TRACKING_URI: server.uri }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("bin/mloop.js", () => {
  it("runs tracking commands end to end", async () => {
    const created = await mloop("experiments", "create", "-n", "from-the-binary", "--json");
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const id = JSON.parse(created.stdout).experiment_id as string;

    const list = await mloop("experiments", "list");
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+from-the-binary\\s`, "m"));
    expect(list.stdout).not.toContain("\u001b[");

    const runs = await mloop("runs", "list", "-x", id, "--json");
    expect(runs).toMatchObject({ code: 0, stdout: "[]\n" });
  });

  it("exits 1 with one line on stderr for an unknown experiment and a server that is down", async () => {
    const unknown = await mloop("runs", "list", "-n", "no-such-experiment");
    expect(unknown).toMatchObject({ code: 1, stdout: "", stderr: "mloop: experiment 'no-such-experiment' does not exist\n" });

    const down = await mloop("experiments", "list", "--tracking-uri", await deadUri());
    expect(down.code).toBe(1);
    expect(down.stdout).toBe("");
    expect(down.stderr).toMatch(/^mloop: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    expect(down.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});
