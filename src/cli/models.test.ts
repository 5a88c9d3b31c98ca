import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MloopClient } from "../client/index.js";
import { deadUri, listenTestApp, runCli } from "../../test/helpers/cli.js";
import type { TestApp } from "../../test/helpers/app.js";

let server: TestApp & { uri: string };
let runId: string;
let tmp: string;

beforeAll(async () => {
  server = await listenTestApp();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-models-cli-"));
  const client = new MloopClient({ trackingUri: server.uri });
  const run = await client.createRun({ experimentId: "0" });
  runId = run.info.run_id;
  const modelDir = path.join(tmp, "model-src");
  fs.mkdirSync(modelDir, { recursive: true });
  fs.writeFileSync(path.join(modelDir, "MLmodel"), "flavors: {}\n");
  fs.writeFileSync(path.join(modelDir, "model.bin"), Buffer.from([1, 2, 3, 4]));
  await client.logArtifacts(runId, modelDir, "model");
});
afterAll(async () => {
  await server?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(...args, "--tracking-uri", server.uri);

function oneLine(s: string): void {
  expect(s.trimEnd().split("\n")).toHaveLength(1);
}

describe("mloop models", () => {
  it("registers, lists, describes, aliases, stages, downloads and deletes", async () => {
    const reg = await cli("models", "register", `runs:/${runId}/model`, "--name", "fraud", "--tag", "validated=true");
    expect(reg).toMatchObject({ code: 0, stderr: "", stdout: `Registered version 1 of 'fraud' from runs:/${runId}/model\n` });
    const reg2 = JSON.parse((await cli("models", "register", `runs:/${runId}/model`, "--name", "fraud", "--json")).stdout);
    expect(reg2).toMatchObject({ name: "fraud", version: "2", run_id: runId });

    expect(await cli("models", "alias", "set", "fraud", "champion", "1")).toMatchObject({ code: 0, stdout: "Alias 'champion' of 'fraud' now points at version 1\n" });

    const list = await cli("models", "list");
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+LATEST\s+ALIASES\s+LAST UPDATED\s+DESCRIPTION$/);
    expect(lines[1]).toMatch(/^fraud\s+v2\s+champion→v1\s+/);
    expect(list.stdout).not.toContain("\u001b[");
    const listed = JSON.parse((await cli("models", "list", "--json", "--filter", "name LIKE 'fr%'")).stdout);
    expect(listed.map((m: { name: string }) => m.name)).toEqual(["fraud"]);

    const versions = await cli("models", "versions", "fraud");
    const vlines = versions.stdout.trimEnd().split("\n");
    expect(vlines[0]).toMatch(/^VERSION\s+STAGE\s+ALIASES\s+RUN ID\s+CREATED\s+SOURCE$/);
    expect(vlines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(["2", "1"]);

    const stage = await cli("models", "stage", "fraud", "2", "production", "--archive-existing");
    expect(stage).toMatchObject({ code: 0, stdout: "Version 2 of 'fraud' is now in stage Production\n" });

    const desc = await cli("models", "describe", "fraud");
    expect(desc.code).toBe(0);
    expect(desc.stdout).toMatch(/Aliases:\s+champion→v1/);
    expect(desc.stdout).toMatch(/2\s+Production/);

    const dst = path.join(tmp, "dl");
    const dl = await cli("models", "download", "fraud", "--alias", "champion", "-d", dst);
    expect(dl).toMatchObject({ code: 0, stdout: `Downloaded version 1 of 'fraud' to ${dst}\n` });
    expect(fs.readFileSync(path.join(dst, "MLmodel"), "utf8")).toBe("flavors: {}\n");
    expect([...fs.readFileSync(path.join(dst, "model.bin"))]).toEqual([1, 2, 3, 4]);

    expect(await cli("models", "alias", "delete", "fraud", "champion")).toMatchObject({ code: 0 });
    expect(await cli("models", "delete", "fraud", "1")).toMatchObject({ code: 0, stdout: "Deleted version 1 of 'fraud'\n" });
    expect(JSON.parse((await cli("models", "versions", "fraud", "--json")).stdout).map((v: { version: string }) => v.version)).toEqual(["2"]);
    expect(await cli("models", "delete", "fraud")).toMatchObject({ code: 0, stdout: "Deleted registered model 'fraud'\n" });
    expect(JSON.parse((await cli("models", "list", "--json")).stdout)).toEqual([]);
  });

  it("fails with one line and a non-zero exit", async () => {
    const missing = await cli("models", "describe", "nope");
    expect(missing.code).not.toBe(0);
    oneLine(missing.stderr);
    expect(missing.stderr).toMatch(/^mloop: RESOURCE_DOES_NOT_EXIST: /);

    const badSource = await cli("models", "register", "/etc/passwd", "--name", "x");
    expect(badSource.code).not.toBe(0);
    oneLine(badSource.stderr);
    expect(badSource.stderr).toMatch(/INVALID_PARAMETER_VALUE/);

    const badStage = await cli("models", "stage", "x", "1", "Prod");
    expect(badStage.code).not.toBe(0);
    oneLine(badStage.stderr);
    expect(badStage.stderr).toMatch(/stage must be one of/);

    const badVersion = await cli("models", "alias", "set", "x", "champion", "abc");
    expect(badVersion.code).not.toBe(0);
    oneLine(badVersion.stderr);

    const down = await runCli("models", "list", "--tracking-uri", await deadUri());
    expect(down.code).not.toBe(0);
    oneLine(down.stderr);
  });

  it("has examples in --help", async () => {
    const help = await runCli("models", "alias", "set", "--help");
    expect(help.stdout).toContain("Example:");
  });
});
