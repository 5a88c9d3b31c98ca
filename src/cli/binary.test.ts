/**
 * The real executable: `node bin/mloop.js` over this tree transpiled into a
 * scratch folder, run as a subprocess against a listening server.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../test/helpers/app.js";
import { deadUri, listenTestApp } from "../../test/helpers/cli.js";
import { buildScratchCli } from "../../test/helpers/scratch-cli.js";

const repo = path.resolve(import.meta.dirname, "../..");
let built: ReturnType<typeof buildScratchCli> | undefined;
let server: TestApp & { uri: string };

beforeAll(async () => {
  built = buildScratchCli("bin-test");
  server = await listenTestApp();
});

afterAll(async () => {
  await server?.close();
  built?.remove();
});

function mloop(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [built!.bin, ...args], { env: { ...process.env, MLFLOW_TRACKING_URI: server.uri }, timeout: 30_000 }, (err, stdout, stderr) => {
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
