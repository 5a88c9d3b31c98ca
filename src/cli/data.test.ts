import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../../test/helpers/cli.js";

function repo(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-cli-data-"));
  execFileSync("git", ["init", "-q"], { cwd: dir });
  fs.writeFileSync(path.join(dir, "a.csv"), "x\n1\n");
  return dir;
}

describe("mloop data", () => {
  it("every command's --help carries an example", async () => {
    for (const cmd of ["init", "add", "status", "commit", "checkout", "push", "pull", "fetch", "gc", "ls", "remote add", "remote list", "remote default", "remote modify"]) {
      const r = await runCli("data", ...cmd.split(" "), "--help");
      expect(r.stdout, cmd).toMatch(/Examples?:\n {2}.*mloop data /);
    }
  });

  it("adds, lists and reports status as JSON", async () => {
    const dir = repo();
    expect((await runCli("data", "init", "--cd", dir)).code).toBe(0);
    const added = await runCli("data", "add", "a.csv", "--cd", dir, "--json");
    expect(JSON.parse(added.stdout)).toEqual([{ dvcFile: "a.csv.dvc", path: "a.csv", md5: "dc3ba59be5d893be2c69ea202014fe78", size: 4, isDir: false }]);
    expect(JSON.parse((await runCli("data", "ls", "--cd", dir, "--json")).stdout)[0].md5).toBe("dc3ba59be5d893be2c69ea202014fe78");
    fs.writeFileSync(path.join(dir, "a.csv"), "changed");
    const st = await runCli("data", "status", "--cd", dir);
    expect(st.stdout).toBe("a.csv.dvc:\n\tchanged outs:\n\t\tmodified:           a.csv\n");
    // the lean path (plain status) and the full CLI (any other flag, here -j) answer alike
    const lean = await runCli("data", "status", "--cd", dir, "--json");
    const full = await runCli("data", "status", "--cd", dir, "--json", "-j", "2");
    expect(JSON.parse(lean.stdout)).toEqual({ "a.csv.dvc": [{ "changed outs": { "a.csv": "modified" } }] });
    expect([lean.code, lean.stdout]).toEqual([full.code, full.stdout]);
    expect((await runCli("data", "remote", "add", "-d", "store", "../remote", "--cd", dir)).code).toBe(0);
    expect((await runCli("data", "remote", "default", "--cd", dir)).stdout).toBe("store\n");
    expect(fs.readFileSync(path.join(dir, ".dvc", "config"), "utf8")).toBe("[core]\n    remote = store\n['remote \"store\"']\n    url = ../../remote\n");
  });

  it("fails with one line and a non-zero exit", async () => {
    const dir = repo();
    const outside = await runCli("data", "status", "--cd", dir);
    expect([outside.code, outside.stderr]).toEqual([1, `mloop: '${dir}' is not inside a DVC repository (run 'mloop data init')\n`]);
    await runCli("data", "init", "--cd", dir);
    const cases: [string[], RegExp][] = [
      [["add", "../x"], /^mloop: '\.\.\/x' is outside the repository /],
      [["add", "missing.csv"], /^mloop: 'missing\.csv' does not exist$/],
      [["push"], /^mloop: no remote given and no default remote set/],
      [["checkout", "a.csv"], /^mloop: 'a\.csv' is not tracked: no a\.csv\.dvc$/],
      [["remote", "default", "ghost"], /^mloop: remote 'ghost' does not exist$/],
    ];
    fs.writeFileSync(path.join(dir, "broken.dvc"), "outs: [");
    cases.push([["status"], /^mloop: broken\.dvc is not valid YAML/]);
    for (const [args, want] of cases) {
      const r = await runCli("data", ...args, "--cd", dir);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr.split("\n").filter(Boolean), args.join(" ")).toHaveLength(1);
      expect(r.stderr.trim(), args.join(" ")).toMatch(want);
    }
  });
});
