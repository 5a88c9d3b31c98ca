import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deadUri, listenTestApp, runCli } from "../../test/helpers/cli.js";
import type { TestApp } from "../../test/helpers/app.js";

let server: TestApp & { uri: string };

beforeAll(async () => {
  server = await listenTestApp();
});
afterAll(async () => {
  await server?.close();
});

const cli = (...args: string[]) => runCli(...args, "--tracking-uri", server.uri);

function oneLine(s: string): void {
  expect(s.trimEnd().split("\n")).toHaveLength(1);
}

describe("mloop experiments", () => {
  it("creates, lists, renames, deletes and restores", async () => {
    const created = await cli("experiments", "create", "-n", "fraud", "--tag", "team=risk");
    expect(created).toMatchObject({ code: 0, stderr: "" });
    const id = /with id (\S+)/.exec(created.stdout)?.[1];
    expect(id).toBeTruthy();

    const json = await cli("experiments", "create", "-n", "churn", "--json");
    const churnId = JSON.parse(json.stdout).experiment_id as string;

    const table = await cli("experiments", "list");
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+NAME\s+ARTIFACT LOCATION\s+LAST UPDATED$/);
    const fraudLine = lines.find((l) => l.includes("fraud"))!;
    expect(fraudLine.startsWith(id!)).toBe(true);
    // columns line up: NAME starts at the same offset in every row
    const nameCol = lines[0]!.indexOf("NAME");
    expect(fraudLine.slice(nameCol, nameCol + 5)).toBe("fraud");
    expect(table.stdout).not.toContain("\u001b[");

    const listed = JSON.parse((await cli("experiments", "list", "--json", "--filter", "tags.team = 'risk'")).stdout);
    expect(listed.map((e: { name: string }) => e.name)).toEqual(["fraud"]);

    expect(await cli("experiments", "rename", "-n", "fraud", "--new-name", "fraud-detection")).toMatchObject({ code: 0, stdout: `Renamed experiment ${id} to 'fraud-detection'\n` });
    expect(await cli("experiments", "delete", "-x", churnId)).toMatchObject({ code: 0, stdout: `Deleted experiment ${churnId}\n` });
    const active = JSON.parse((await cli("experiments", "list", "--json")).stdout).map((e: { name: string }) => e.name);
    expect(active).toContain("fraud-detection");
    expect(active).not.toContain("churn");
    const deleted = await cli("experiments", "list", "--view", "deleted_only");
    expect(deleted.stdout).toMatch(/churn.*deleted/);
    expect(await cli("experiments", "restore", "-n", "churn")).toMatchObject({ code: 0, stdout: `Restored experiment ${churnId}\n` });

    const searched = JSON.parse((await cli("experiments", "search", "--json", "--filter", "name = 'churn'")).stdout);
    expect(searched.map((e: { experiment_id: string }) => e.experiment_id)).toEqual([churnId]);

    const limited = JSON.parse((await cli("experiments", "list", "--json", "--max-results", "1")).stdout);
    expect(limited).toHaveLength(1);
  });

  it("fails with one line and exit 1 on errors", async () => {
    const unknown = await cli("experiments", "delete", "-n", "no-such-experiment");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("mloop: experiment 'no-such-experiment' does not exist\n");

    const missingId = await cli("experiments", "restore", "-x", "424242");
    expect(missingId.code).toBe(1);
    expect(missingId.stderr).toMatch(/^mloop: RESOURCE_DOES_NOT_EXIST: /);
    oneLine(missingId.stderr);

    await cli("experiments", "create", "-n", "twice");
    const dup = await cli("experiments", "create", "-n", "twice");
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^mloop: RESOURCE_ALREADY_EXISTS: /);
    oneLine(dup.stderr);

    const noName = await cli("experiments", "create");
    expect(noName.code).not.toBe(0);
    expect(noName.stderr).toContain("--experiment-name");
    oneLine(noName.stderr);

    const badMax = await cli("experiments", "list", "--max-results", "zero");
    expect(badMax.code).toBe(1);
    oneLine(badMax.stderr);

    const typo = await runCli("experiments", "lst");
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toBe("error: unknown command 'lst' (did you mean list?)\n");

    const unknownOption = await cli("experiments", "list", "--bogus");
    expect(unknownOption.code).not.toBe(0);
    oneLine(unknownOption.stderr);

    const badView = await cli("experiments", "list", "--view", "sideways");
    expect(badView.code).not.toBe(0);
    oneLine(badView.stderr);
  });

  it("reports a server that is down in one clear line", async () => {
    const res = await runCli("experiments", "list", "--tracking-uri", await deadUri());
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^mloop: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED .*--tracking-uri or MLFLOW_TRACKING_URI/);
    oneLine(res.stderr);

    const bad = await runCli("experiments", "list", "--tracking-uri", "ftp://example");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^mloop: tracking URI must be http/);
  });

  it("reads MLFLOW_TRACKING_URI", async () => {
    const before = process.env.MLFLOW_TRACKING_URI;
    process.env.MLFLOW_TRACKING_URI = server.uri;
    try {
      const res = await runCli("experiments", "list", "--json");
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout).some((e: { name: string }) => e.name === "Default")).toBe(true);
    } finally {
      if (before === undefined) delete process.env.MLFLOW_TRACKING_URI;
      else process.env.MLFLOW_TRACKING_URI = before;
    }
  });

  it("shows an example in every command's help", async () => {
    for (const args of [["experiments"], ["experiments", "create"], ["experiments", "list"], ["experiments", "rename"], ["experiments", "delete"], ["experiments", "restore"]]) {
      const res = await runCli(...args, "--help");
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/Example/);
      expect(res.stdout).toContain("mloop experiments");
    }
  });
});
