/**
 * `mloop repro` against the real dvc 3.67.1 (.venv): each reads what the other wrote, the
 * dvc.lock files agree on every hash, stale-only reruns, the run cache, and a failing stage.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { HAS_DVC, dvc, git, mloopIn, newPipelineRepo, readLockFile, takeRuns } from "./helpers.js";

const ALL = ["prepare", "train", "evaluate", "shard-a", "shard-b", "persisted"];

describe.skipIf(!HAS_DVC)("mloop repro and the real dvc", () => {
  it("sees a pipeline dvc repro ran as up to date, runs nothing, and writes the same dvc.lock dvc writes", async () => {
    const byDvc = await newPipelineRepo("from-dvc", "dvc");
    await dvc(byDvc.dir, ["repro", "-q"], { env: byDvc.env });
    expect(takeRuns(byDvc).sort()).toEqual([...ALL].sort());

    const status = await mloopIn(byDvc, "status");
    expect([status.code, status.stdout.trim(), status.stderr]).toEqual([0, "Data and pipelines are up to date.", ""]);
    const again = await mloopIn(byDvc, "repro");
    expect(again.stderr).toBe("");
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain("Running stage");
    expect(takeRuns(byDvc)).toEqual([]);

    // a fresh copy of the same pipeline reproduced by mloop
    const byMloop = await newPipelineRepo("from-mloop", "dvc");
    const r = await mloopIn(byMloop, "repro");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(takeRuns(byMloop).sort()).toEqual([...ALL].sort());
    const dvcStatus = await dvc(byMloop.dir, ["status"], { env: byMloop.env });
    expect(dvcStatus.stdout.trim()).toBe("Data and pipelines are up to date.");
    const dry = await dvc(byMloop.dir, ["repro", "--dry"], { env: byMloop.env });
    expect(dry.stdout).not.toContain("Running stage");
    expect(takeRuns(byMloop)).toEqual([]);

    // the locks agree on every stage name and hash (and everything else)
    expect(readLockFile(byMloop.dir)).toEqual(readLockFile(byDvc.dir));
    const names = Object.keys((readLockFile(byMloop.dir) as { stages: object }).stages).sort();
    expect(names).toEqual(["evaluate", "grid@x-1", "grid@x-2", "grid@y-1", "grid@y-2", "persisted", "prepare", "shard@a", "shard@b", "train"]);
    // cached outputs in .gitignore as dvc puts them, and the same run cache entries
    expect(fs.readFileSync(path.join(byMloop.dir, ".gitignore"), "utf8")).toContain("/features\n");
    const runCache = (dir: string) => fs.readdirSync(path.join(dir, ".dvc/cache/runs"), { recursive: true, encoding: "utf8" }).filter((p) => p.split(path.sep).length === 3).sort();
    expect(runCache(byMloop.dir)).toEqual(runCache(byDvc.dir));

    // and dvc repro after a change made with mloop's lock in place runs only what changed
    fs.appendFileSync(path.join(byMloop.dir, "other.yaml"), "unused: 1\n");
    fs.writeFileSync(path.join(byMloop.dir, "other.yaml"), "eval:\n  k: 6\n");
    await dvc(byMloop.dir, ["repro", "-q"], { env: byMloop.env });
    expect(takeRuns(byMloop)).toEqual(["evaluate"]);
    expect((await mloopIn(byMloop, "status")).stdout.trim()).toBe("Data and pipelines are up to date.");
    // the run cache is shared: dvc restores train from the entry mloop wrote, mloop from dvc's
    const params = path.join(byMloop.dir, "params.yaml");
    const original = fs.readFileSync(params, "utf8");
    fs.writeFileSync(params, original.replace("acc: 0.8", "acc: 0.7"));
    await dvc(byMloop.dir, ["repro", "-q"], { env: byMloop.env });
    expect(takeRuns(byMloop)).toEqual(["train"]);
    fs.writeFileSync(params, original);
    expect((await dvc(byMloop.dir, ["repro"], { env: byMloop.env })).stdout).toContain("Stage 'train' is cached - skipping run, checking out outputs");
    expect(takeRuns(byMloop)).toEqual([]);
    fs.writeFileSync(params, original.replace("acc: 0.8", "acc: 0.7"));
    expect((await mloopIn(byMloop, "repro")).stdout).toContain("Stage 'train' is cached - skipping run, checking out outputs");
    expect(takeRuns(byMloop)).toEqual([]);
    expect(JSON.parse(fs.readFileSync(path.join(byMloop.dir, "metrics.json"), "utf8"))).toEqual({ acc: 0.7, loss: 0.5 });
    expect((await dvc(byMloop.dir, ["status"], { env: byMloop.env })).stdout.trim()).toBe("Data and pipelines are up to date.");
  });

  it("reruns only what changed, in order, and brings reverted outputs back from the run cache", async () => {
    const repo = await newPipelineRepo("caching", "dvc");
    expect((await mloopIn(repo, "repro", "-j", "2")).code).toBe(0);
    expect(takeRuns(repo).sort()).toEqual([...ALL].sort());

    // one dependency: its downstream stages rerun, nothing else
    const raw = path.join(repo.dir, "data", "raw.csv");
    const original = fs.readFileSync(raw);
    fs.writeFileSync(raw, "x,y\n9,9\n");
    const status = await mloopIn(repo, "status");
    expect(status.stdout).toContain("prepare:\n\tchanged deps:\n\t\tmodified:           data/raw.csv");
    expect(status.stdout).not.toContain("train:");
    expect((await mloopIn(repo, "repro", "prepare", "train", "evaluate")).code).toBe(0);
    expect(takeRuns(repo)).toEqual(["prepare", "train", "evaluate"]);
    const modelAfterChange = fs.readFileSync(path.join(repo.dir, "model.bin"), "utf8");

    // one param: only the stage that reads it (and what its outputs feed)
    fs.writeFileSync(path.join(repo.dir, "params.yaml"), "prep:\n  seed: 7\ntrain:\n  lr: 0.02\n  acc: 0.8\n");
    const pstatus = await mloopIn(repo, "status", "--json");
    expect(JSON.parse(pstatus.stdout).train).toEqual([{ "changed deps": { "params.yaml: train.lr": "modified" } }]);
    expect(Object.keys(JSON.parse(pstatus.stdout))).toEqual(["train", "shard@a", "shard@b", "persisted"]);
    expect((await mloopIn(repo, "repro", "train", "evaluate")).code).toBe(0);
    expect(takeRuns(repo)).toEqual(["train", "evaluate"]);

    // revert both: the outputs come back from the run cache, no command runs
    fs.writeFileSync(raw, original);
    fs.writeFileSync(path.join(repo.dir, "params.yaml"), "prep:\n  seed: 7\ntrain:\n  lr: 0.01\n  acc: 0.8\n");
    const restored = await mloopIn(repo, "repro");
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain("Stage 'prepare' is cached - skipping run, checking out outputs");
    expect(restored.stdout).toContain("Stage 'train' is cached - skipping run, checking out outputs");
    const ran = takeRuns(repo);
    expect(ran).not.toContain("prepare");
    expect(ran).not.toContain("train");
    expect(fs.readFileSync(path.join(repo.dir, "model.bin"), "utf8")).not.toBe(modelAfterChange);
    expect(fs.readFileSync(path.join(repo.dir, "model.bin"), "utf8")).toBe("x,y\n1,2\n3,4\n  lr: 0.01\n");
    expect((await dvc(repo.dir, ["status"], { env: repo.env })).stdout.trim()).toBe("Data and pipelines are up to date.");

    // --force reruns the target, --single-item only it, --downstream it and what follows
    expect((await mloopIn(repo, "repro", "--force", "--single-item", "train")).code).toBe(0);
    expect(takeRuns(repo)).toEqual(["train"]);
    expect((await mloopIn(repo, "repro", "--force", "--downstream", "train")).code).toBe(0);
    expect(takeRuns(repo)).toEqual(["train", "evaluate"]);
    const dry = await mloopIn(repo, "repro", "--dry", "--force", "evaluate");
    expect(dry.stdout).toContain("Running stage 'evaluate':");
    expect(takeRuns(repo)).toEqual([]);
  });

  it("stops at a failing stage: exit code non-zero, its run FAILED, dvc.lock untouched for it", async () => {
    const repo = await newPipelineRepo("failing", "dvc");
    expect((await mloopIn(repo, "repro")).code).toBe(0);
    takeRuns(repo);
    const lockBefore = readLockFile(repo.dir);
    const yaml = fs.readFileSync(path.join(repo.dir, "dvc.yaml"), "utf8");
    fs.writeFileSync(path.join(repo.dir, "dvc.yaml"), yaml.replace("cat features/raw.csv > model.bin", "echo train >> \"$RUNLOG\" && exit 3"));
    const r = await mloopIn(repo, "repro");
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toEqual(["mloop: failed to reproduce 'train': the command exited with code 3"]);
    expect(takeRuns(repo)).toEqual(["train"]); // evaluate did not run
    expect((readLockFile(repo.dir) as { stages: Record<string, unknown> }).stages.train).toEqual((lockBefore as { stages: Record<string, unknown> }).stages.train);
    const db = new Database(repo.env.MLFLOW_TRACKING_URI!.replace("sqlite:///", ""), { readonly: true });
    try {
      const rows = db.prepare("SELECT name, status FROM runs ORDER BY start_time").all() as { name: string; status: string }[];
      expect(rows.filter((x) => x.name === "train").map((x) => x.status)).toEqual(["FINISHED", "FAILED"]);
      expect(rows.filter((x) => x.name.startsWith("repro")).map((x) => x.status)).toEqual(["FINISHED", "FAILED"]);
    } finally {
      db.close();
    }
  });

  it("names the file, the stage and the field of a bad dvc.yaml, on one line", async () => {
    const repo = await newPipelineRepo("bad", "dvc", "stages:\n  train:\n    cmd: echo\n    deps: data/raw.csv\n");
    const r = await mloopIn(repo, "repro");
    expect([r.code, r.stderr]).toEqual([1, "mloop: dvc.yaml: stage 'train': 'deps' must be a list of paths\n"]);
    fs.writeFileSync(path.join(repo.dir, "dvc.yaml"), "stages:\n  train:\n    cmd: echo ${nope}\n");
    expect((await mloopIn(repo, "status")).stderr).toBe("mloop: dvc.yaml: stage 'train': 'cmd' uses '${nope}', which is not defined\n");
    fs.writeFileSync(path.join(repo.dir, "dvc.yaml"), "stages:\n  train:\n    command: echo\n");
    expect((await mloopIn(repo, "dag")).stderr).toBe("mloop: dvc.yaml: stage 'train': 'command' is not a stage field (extra keys not allowed)\n");
  });

  it("honours frozen and always_changed, and prints the graph", async () => {
    const repo = await newPipelineRepo(
      "flags",
      "dvc",
      `stages:\n  a:\n    cmd: echo a > a.txt && echo a >> "$RUNLOG"\n    deps: [data/raw.csv]\n    outs: [a.txt]\n  b:\n    cmd: cat a.txt > b.txt && echo b >> "$RUNLOG"\n    deps: [a.txt]\n    outs: [b.txt]\n    always_changed: true\n  c:\n    cmd: echo c > c.txt && echo c >> "$RUNLOG"\n    deps: [b.txt]\n    outs: [c.txt]\n    frozen: true\n`,
    );
    expect((await mloopIn(repo, "repro")).code).toBe(0);
    expect(takeRuns(repo)).toEqual(["a", "b"]);
    expect((await mloopIn(repo, "repro")).code).toBe(0);
    expect(takeRuns(repo)).toEqual(["b"]);
    expect((await mloopIn(repo, "status")).stdout).toBe("b:\n\talways changed\n");
    expect((await mloopIn(repo, "dag")).stdout).toBe("a\nb  <-  a\nc  <-  b\n");
    expect((await mloopIn(repo, "dag", "--dot")).stdout).toContain('"a" -> "b";');
    const dvcDag = await dvc(repo.dir, ["dag", "--dot"]);
    for (const edge of ['"a" -> "b"', '"b" -> "c"']) expect(dvcDag.stdout.replace(/\s+/g, " ")).toContain(edge);
    await git(repo.dir, "status");
  });

  it("reads a params file an upstream stage writes after it ran, and CSV metrics", async () => {
    const repo = await newPipelineRepo(
      "generated-params",
      "dvc",
      [
        "stages:",
        "  gen:",
        "    cmd: >-",
        "      printf 'k: %s\\n' \"$(wc -l < data/raw.csv)\" > gen.yaml && echo gen >> \"$RUNLOG\"",
        "    deps: [data/raw.csv]",
        "    outs: [{gen.yaml: {cache: false}}]",
        "  use:",
        "    cmd: >-",
        "      printf 'name,score\\nm,%s\\n' \"$(grep k gen.yaml | cut -d' ' -f2)\" > score.csv && echo use >> \"$RUNLOG\"",
        "    params: [{gen.yaml: [k]}]",
        "    metrics: [{score.csv: {cache: false}}]",
        "",
      ].join("\n"),
    );
    expect((await mloopIn(repo, "repro")).code).toBe(0);
    expect(takeRuns(repo)).toEqual(["gen", "use"]);
    expect(JSON.parse((await mloopIn(repo, "metrics", "show", "--json")).stdout)).toEqual({ "score.csv": { name: "m", score: 3 } });
    fs.appendFileSync(path.join(repo.dir, "data", "raw.csv"), "5,6\n");
    expect((await mloopIn(repo, "repro")).code).toBe(0);
    expect(takeRuns(repo)).toEqual(["gen", "use"]);
    expect(((readLockFile(repo.dir) as { stages: { use: { params: unknown } } }).stages.use.params)).toEqual({ "gen.yaml": { k: 4 } });
    expect((await dvc(repo.dir, ["status"], { env: repo.env })).stdout.trim()).toBe("Data and pipelines are up to date.");
  });

  it("runs independent stages at the same time with -j", async () => {
    // each stage waits (up to 10 s) for the other to have started: only a parallel run passes
    const wait = (me: string, other: string) => `touch "$RUNLOG.${me}" && for i in $(seq 200); do [ -f "$RUNLOG.${other}" ] && break; sleep 0.05; done && [ -f "$RUNLOG.${other}" ] && echo ${me} > ${me}.txt`;
    const repo = await newPipelineRepo(
      "parallel",
      "dvc",
      ["stages:", "  a:", `    cmd: ${wait("a", "b")}`, "    outs: [a.txt]", "  b:", `    cmd: ${wait("b", "a")}`, "    outs: [b.txt]", "  c:", "    cmd: cat a.txt b.txt > c.txt", "    deps: [a.txt, b.txt]", "    outs: [c.txt]", ""].join("\n"),
    );
    const r = await mloopIn(repo, "repro", "-j", "2", "--no-track");
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(fs.readFileSync(path.join(repo.dir, "c.txt"), "utf8")).toBe("a\nb\n");
  });

  it("reports changed .dvc-tracked data in mloop status as dvc status does", async () => {
    const repo = await newPipelineRepo("dvc-files", "dvc", "stages:\n  a:\n    cmd: cp data/extra.bin a.txt\n    deps: [data/extra.bin]\n    outs: [a.txt]\n");
    fs.writeFileSync(path.join(repo.dir, "data", "extra.bin"), "v1");
    await dvc(repo.dir, ["add", "-q", "data/extra.bin"]);
    expect((await mloopIn(repo, "repro")).code).toBe(0);
    fs.writeFileSync(path.join(repo.dir, "data", "extra.bin"), "v2");
    const ours = await mloopIn(repo, "status", "--json");
    const theirs = await dvc(repo.dir, ["status", "--json"]);
    expect(JSON.parse(ours.stdout)).toEqual(JSON.parse(theirs.stdout));
    expect(Object.keys(JSON.parse(ours.stdout))).toEqual(["a", "data/extra.bin.dvc"]);
  });
});
