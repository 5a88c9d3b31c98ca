/**
 * Ctrl-C during `mloop repro` (the real executable, as a subprocess): the stage's command is
 * stopped, its run and the parent run end KILLED, dvc.lock keeps the stage's old entry, exit 130.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { buildScratchCli } from "../helpers/scratch-cli.js";
import { HAS_DVC, newPipelineRepo } from "./helpers.js";

const built = buildScratchCli("pipelines-interrupt");
afterAll(() => built.remove());

describe.skipIf(!HAS_DVC)("interrupting mloop repro", () => {
  it("stops the running stage, marks its run KILLED and leaves dvc.lock alone", async () => {
    const repo = await newPipelineRepo(
      "interrupt",
      "dvc",
      `stages:\n  slow:\n    cmd: echo started >> "$RUNLOG" && sleep 30 && echo done > out.txt\n    deps: [data/raw.csv]\n    outs: [out.txt]\n`,
    );
    const child = spawn(process.execPath, [built.bin, "repro", "--cd", repo.dir], { env: { ...process.env, ...repo.env }, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const deadline = Date.now() + 30_000;
    while (!fs.existsSync(repo.runLog) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(code).toBe(130);
    expect(stderr.trim()).toBe("mloop: interrupted while reproducing 'slow'; dvc.lock keeps its previous entry");
    expect(fs.existsSync(path.join(repo.dir, "dvc.lock"))).toBe(false);
    expect(fs.existsSync(path.join(repo.dir, "out.txt"))).toBe(false);
    const db = new Database(repo.env.MLFLOW_TRACKING_URI!.replace("sqlite:///", ""), { readonly: true });
    try {
      expect(db.prepare("SELECT name, status FROM runs ORDER BY start_time").all()).toEqual([
        { name: expect.stringMatching(/^repro/), status: "KILLED" },
        { name: "slow", status: "KILLED" },
      ]);
    } finally {
      db.close();
    }
  });
});
