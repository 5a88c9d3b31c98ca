import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MloopClient } from "../client/index.js";
import type { TestApp } from "../../test/helpers/app.js";
import { deadUri, listenTestApp, runCli } from "../../test/helpers/cli.js";

let server: TestApp & { uri: string };
let client: MloopClient;
let experimentId: string;
const runIds: string[] = [];

beforeAll(async () => {
  server = await listenTestApp();
  client = new MloopClient({ trackingUri: server.uri });
  experimentId = await client.createExperiment("house-prices");
  for (let i = 0; i < 4; i++) {
    const run = await client.startRun({ experimentId, runName: `trial-${i}` });
    run.logParams({ model: i % 2 ? "xgb" : "linear", depth: i }).logMetric("rmse", 10 - i, { step: 1 }).setTag("team", "pricing");
    await run.end(i === 3 ? "FAILED" : "FINISHED");
    runIds.push(run.runId);
  }
});
afterAll(async () => {
  await server?.close();
});

const cli = (...args: string[]) => runCli(...args, "--tracking-uri", server.uri);

describe("mloop runs", () => {
  it("lists runs as an aligned table", async () => {
    const res = await cli("runs", "list", "-n", "house-prices");
    expect(res).toMatchObject({ code: 0, stderr: "" });
    const lines = res.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^RUN ID\s+NAME\s+STATUS\s+STARTED\s+DURATION$/);
    expect(lines).toHaveLength(5);
    const statusCol = lines[0]!.indexOf("STATUS");
    const failed = lines.find((l) => l.startsWith(runIds[3]!))!;
    expect(failed.slice(statusCol)).toMatch(/^FAILED /);
    expect(failed).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
  });

  it("filters, orders and limits", async () => {
    const res = await cli("runs", "list", "-x", experimentId, "--filter", "params.model = 'xgb'", "--order-by", "metrics.rmse ASC", "--json");
    expect(res.code).toBe(0);
    const runs = JSON.parse(res.stdout) as { info: { run_id: string } }[];
    expect(runs.map((r) => r.info.run_id)).toEqual([runIds[3], runIds[1]]);

    const limited = JSON.parse((await cli("runs", "list", "-x", experimentId, "--order-by", "metrics.rmse DESC", "--max-results", "2", "--json")).stdout);
    expect(limited.map((r: { info: { run_id: string } }) => r.info.run_id)).toEqual([runIds[0], runIds[1]]);

    const withColumns = await cli("runs", "list", "-x", experimentId, "--order-by", "metrics.rmse ASC", "--columns", "metrics.rmse,params.model,tags.team,metrics.none");
    const lines = withColumns.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/DURATION\s+metrics\.rmse\s+params\.model\s+tags\.team\s+metrics\.none$/);
    expect(lines[1]).toMatch(new RegExp(`^${runIds[3]}\\s.*\\s7\\s+xgb\\s+pricing$`));

    const badColumn = await cli("runs", "list", "-x", experimentId, "--columns", "rmse");
    expect(badColumn).toMatchObject({ code: 1, stderr: "mloop: --columns takes metrics.<key>, params.<key> or tags.<key>, got 'rmse'\n" });

    const bad = await cli("runs", "list", "-x", experimentId, "--filter", "metrics.rmse <<< 1");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^mloop: INVALID_PARAMETER_VALUE: /);
    expect(bad.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  it("describes a run", async () => {
    const res = await cli("runs", "describe", "-r", runIds[1]!);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`run id:\\s+${runIds[1]}`));
    expect(res.stdout).toMatch(/name:\s+trial-1/);
    expect(res.stdout).toMatch(/status:\s+FINISHED/);
    expect(res.stdout).toMatch(/^PARAM\s+VALUE$/m);
    expect(res.stdout).toMatch(/^model\s+xgb$/m);
    expect(res.stdout).toMatch(/^rmse\s+9\s+1\s+\d{4}-/m);
    expect(res.stdout).toMatch(/^team\s+pricing$/m);

    const json = JSON.parse((await cli("runs", "describe", "-r", runIds[1]!, "--json")).stdout);
    expect(json.info.run_id).toBe(runIds[1]);
    expect(json.data.params).toContainEqual({ key: "model", value: "xgb" });
  });

  it("deletes and restores a run", async () => {
    expect(await cli("runs", "delete", "-r", runIds[0]!)).toMatchObject({ code: 0, stdout: `Deleted run ${runIds[0]}\n` });
    const active = JSON.parse((await cli("runs", "list", "-x", experimentId, "--json")).stdout);
    expect(active.map((r: { info: { run_id: string } }) => r.info.run_id)).not.toContain(runIds[0]);
    const deleted = await cli("runs", "list", "-x", experimentId, "--view", "deleted_only");
    expect(deleted.stdout).toContain(runIds[0]);
    expect(await cli("runs", "restore", "-r", runIds[0]!)).toMatchObject({ code: 0, stdout: `Restored run ${runIds[0]}\n` });
    expect((await client.getRun(runIds[0]!)).info.lifecycle_stage).toBe("active");
  });

  it("fails with one line and exit 1 on errors", async () => {
    const unknownExp = await cli("runs", "list", "-n", "no-such-experiment");
    expect(unknownExp).toMatchObject({ code: 1, stdout: "", stderr: "mloop: experiment 'no-such-experiment' does not exist\n" });

    const noExp = await cli("runs", "list");
    expect(noExp).toMatchObject({ code: 1, stderr: "mloop: give --experiment-id or --experiment-name\n" });

    const unknownRun = await cli("runs", "describe", "-r", "0123456789abcdef0123456789abcdef");
    expect(unknownRun.code).toBe(1);
    expect(unknownRun.stderr).toMatch(/^mloop: RESOURCE_DOES_NOT_EXIST: .*0123456789abcdef0123456789abcdef/);
    expect(unknownRun.stderr.trimEnd().split("\n")).toHaveLength(1);

    const down = await runCli("runs", "delete", "-r", runIds[0]!, "--tracking-uri", await deadUri());
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^mloop: cannot reach http:\/\/127\.0\.0\.1:\d+/);
    expect(down.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  it("shows an example in every command's help", async () => {
    for (const args of [["runs"], ["runs", "list"], ["runs", "describe"], ["runs", "delete"], ["runs", "restore"]]) {
      const res = await runCli(...args, "--help");
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/Example[\s\S]*mloop runs/);
    }
  });
});
