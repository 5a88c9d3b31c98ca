import { describe, expect, it } from "vitest";
import { runCli } from "../../test/helpers/cli.js";

describe("mloop pipeline commands", () => {
  it("every command's --help carries an example", async () => {
    for (const cmd of ["repro", "status", "dag", "lineage", "metrics show", "metrics diff", "params diff", "plots diff", "report", "gate"]) {
      const r = await runCli(...cmd.split(" "), "--help");
      expect(r.stdout, cmd).toMatch(new RegExp(`Examples?:\\n {2}mloop ${cmd.split(" ")[0]}`));
    }
  });

  it("refuses bad numbers and revisions with one line", async () => {
    const r = await runCli("gate", "--metric", "acc", "--min", "high");
    expect([r.code, r.stderr]).toEqual([1, "mloop: --min must be a number, got 'high'\n"]);
  });
});
