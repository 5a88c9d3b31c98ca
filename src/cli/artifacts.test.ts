import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MloopClient } from "../client/index.js";
import type { TestApp } from "../../test/helpers/app.js";
import { deadUri, listenTestApp, runCli } from "../../test/helpers/cli.js";

let server: TestApp & { uri: string };
let client: MloopClient;
let runId: string;
let tmp: string;

beforeAll(async () => {
  server = await listenTestApp();
  client = new MloopClient({ trackingUri: server.uri });
  runId = (await client.createRun({ experimentId: "0" })).info.run_id;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-cli-artifacts-"));
});
afterAll(async () => {
  await server?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(...args, "--tracking-uri", server.uri);

describe("mloop artifacts", () => {
  it("logs a file and a folder, lists and downloads them", async () => {
    const weights = crypto.randomBytes(2 * 1024 * 1024);
    fs.writeFileSync(path.join(tmp, "weights.bin"), weights);
    fs.mkdirSync(path.join(tmp, "plots", "roc"), { recursive: true });
    fs.writeFileSync(path.join(tmp, "plots", "loss.svg"), "<svg/>");
    fs.writeFileSync(path.join(tmp, "plots", "roc", "curve.csv"), "fpr,tpr\n0,0\n1,1\n");

    const logFile = await cli("artifacts", "log", "-r", runId, path.join(tmp, "weights.bin"), "-a", "model");
    expect(logFile).toMatchObject({ code: 0, stderr: "" });
    expect(logFile.stdout).toContain(`to run ${runId} under model`);
    expect((await cli("artifacts", "log", "-r", runId, path.join(tmp, "plots"), "-a", "plots")).code).toBe(0);

    const root = await cli("artifacts", "list", "-r", runId);
    expect(root.code).toBe(0);
    expect(root.stdout.trimEnd().split("\n")).toEqual([expect.stringMatching(/^PATH\s+SIZE$/), "model/", "plots/"]);
    const plots = await cli("artifacts", "list", "-r", runId, "-a", "plots");
    expect(plots.stdout).toMatch(/^plots\/loss\.svg\s+6 B$/m);
    expect(plots.stdout).toMatch(/^plots\/roc\/$/m);
    const model = JSON.parse((await cli("artifacts", "list", "-r", runId, "-a", "model", "--json")).stdout);
    expect(model).toEqual([{ path: "model/weights.bin", is_dir: false, file_size: weights.length }]);

    const dst = path.join(tmp, "dl");
    const dl = await cli("artifacts", "download", "-r", runId, "-a", "plots", "-d", dst);
    expect(dl).toMatchObject({ code: 0, stderr: "", stdout: `${path.join(dst, "plots")}\n` });
    expect(fs.readFileSync(path.join(dst, "plots", "roc", "curve.csv"), "utf8")).toBe("fpr,tpr\n0,0\n1,1\n");

    const one = JSON.parse((await cli("artifacts", "download", "-r", runId, "-a", "model/weights.bin", "-d", dst, "--json")).stdout);
    expect(one.local_path).toBe(path.join(dst, "model", "weights.bin"));
    expect(fs.readFileSync(one.local_path).equals(weights)).toBe(true);
  });

  it("fails with one line and exit 1 on errors", async () => {
    const missingLocal = await cli("artifacts", "log", "-r", runId, path.join(tmp, "nope"));
    expect(missingLocal).toMatchObject({ code: 1, stderr: `mloop: '${path.join(tmp, "nope")}' does not exist\n` });

    const missingArtifact = await cli("artifacts", "download", "-r", runId, "-a", "nothing/here.txt", "-d", path.join(tmp, "x"));
    expect(missingArtifact).toMatchObject({ code: 1, stderr: "mloop: RESOURCE_DOES_NOT_EXIST: artifact 'nothing/here.txt' does not exist\n" });

    const escape = await cli("artifacts", "download", "-r", runId, "-a", "../../etc/passwd", "-d", path.join(tmp, "x"));
    expect(escape.code).toBe(1);
    expect(escape.stderr).toMatch(/^mloop: .*'\.\.' is not allowed\n$/);

    const unknownRun = await cli("artifacts", "list", "-r", "0123456789abcdef0123456789abcdef");
    expect(unknownRun.code).toBe(1);
    expect(unknownRun.stderr).toMatch(/^mloop: RESOURCE_DOES_NOT_EXIST: /);
    expect(unknownRun.stderr.trimEnd().split("\n")).toHaveLength(1);

    const down = await runCli("artifacts", "list", "-r", runId, "--tracking-uri", await deadUri());
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^mloop: cannot reach /);
    expect(down.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  it("shows an example in every command's help", async () => {
    for (const args of [["artifacts"], ["artifacts", "list"], ["artifacts", "download"], ["artifacts", "log"]]) {
      const res = await runCli(...args, "--help");
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/Example[\s\S]*mloop artifacts/);
    }
  });
});
