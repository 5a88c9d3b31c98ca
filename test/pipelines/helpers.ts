/** Scratch git + DVC repositories with a pipeline, the real dvc and mloop side by side. */
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { runCli } from "../helpers/cli.js";
import { dvc, git, scratch, type Result } from "../dvc/helpers.js";

export { dvc, git, HAS_DVC } from "../dvc/helpers.js";

/** A pipeline using every dvc.yaml feature that leaves `dvc status` clean once run. */
export const PIPELINE = `vars:
  - config.yaml
  - threshold: 3
stages:
  prepare:
    cmd: mkdir -p features && cp data/raw.csv features/raw.csv && echo \${threshold} \${name} > features/t.txt && echo prepare >> "$RUNLOG"
    deps:
      - data/raw.csv
    params:
      - prep.seed
    outs:
      - features
  train:
    cmd:
      - cat features/raw.csv > model.bin && grep lr params.yaml >> model.bin
      - "echo '{\\"acc\\": \${train.acc}, \\"loss\\": 0.5}' > metrics.json"
      - echo train >> "$RUNLOG"
    deps:
      - features
    params:
      - train.lr
      - train.acc
    outs:
      - model.bin
    metrics:
      - metrics.json:
          cache: false
  evaluate:
    wdir: sub
    cmd: wc -c < ../model.bin > size.txt && printf 'step,loss\\n1,0.5\\n2,0.4\\n' > plot.csv && echo evaluate >> "$RUNLOG"
    deps:
      - ../model.bin
    params:
      - ../other.yaml:
          - eval.k
    outs:
      - size.txt:
          cache: false
    plots:
      - plot.csv
  shard:
    foreach:
      - a
      - b
    do:
      cmd: echo \${item} > shard-\${item}.txt && echo shard-\${item} >> "$RUNLOG"
      deps:
        - data/raw.csv
      outs:
        - shard-\${item}.txt
  grid:
    matrix:
      m: [x, y]
      n: [1, 2]
    cmd: echo \${item.m}\${item.n} > grid-\${item.m}-\${item.n}.txt
    outs:
      - grid-\${item.m}-\${item.n}.txt
  persisted:
    cmd: echo more >> log.txt && echo persisted >> "$RUNLOG"
    deps:
      - data/raw.csv
    outs:
      - log.txt:
          persist: true
          cache: false
`;

export interface PipelineRepo {
  dir: string;
  /** The file each stage command appends its name to. */
  runLog: string;
  env: Record<string, string>;
}

export async function newPipelineRepo(tag: string, init: "dvc" | "mloop" = "dvc", pipeline = PIPELINE): Promise<PipelineRepo> {
  const base = scratch(`pipe-${tag}`);
  const dir = path.join(base, "repo");
  fs.mkdirSync(path.join(dir, "data"), { recursive: true });
  fs.mkdirSync(path.join(dir, "sub"), { recursive: true });
  await git(dir, "init", "-q");
  if (init === "dvc") await dvc(dir, ["init", "-q"]);
  else await runCli("data", "init", "--cd", dir);
  fs.writeFileSync(path.join(dir, "data", "raw.csv"), "x,y\n1,2\n3,4\n");
  fs.writeFileSync(path.join(dir, "params.yaml"), "prep:\n  seed: 7\ntrain:\n  lr: 0.01\n  acc: 0.8\n");
  fs.writeFileSync(path.join(dir, "other.yaml"), "eval:\n  k: 5\n");
  fs.writeFileSync(path.join(dir, "config.yaml"), "name: demo\n");
  fs.writeFileSync(path.join(dir, "sub", ".gitkeep"), "");
  fs.writeFileSync(path.join(dir, "dvc.yaml"), pipeline);
  fs.writeFileSync(path.join(dir, ".gitignore"), "/mlruns.db*\n/mlartifacts\n");
  await git(dir, "add", "-A");
  await git(dir, "commit", "-qm", "pipeline");
  const runLog = path.join(base, "runs.log");
  return { dir, runLog, env: { RUNLOG: runLog, MLFLOW_TRACKING_URI: `sqlite:///${path.join(base, "track.db")}` } };
}

/** `mloop <args> --cd <repo>` in this process, with the repo's variables set. */
export async function mloopIn(repo: PipelineRepo, ...args: string[]): Promise<Result> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(repo.env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  try {
    return await runCli(...args, "--cd", repo.dir);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Stage names in the order their commands ran since the last call (and clears the log). */
export function takeRuns(repo: PipelineRepo): string[] {
  let text = "";
  try {
    text = fs.readFileSync(repo.runLog, "utf8");
  } catch {
    return [];
  }
  fs.rmSync(repo.runLog);
  return text.split("\n").filter(Boolean);
}

export function readLockFile(dir: string): Record<string, unknown> {
  return YAML.parse(fs.readFileSync(path.join(dir, "dvc.lock"), "utf8")) as Record<string, unknown>;
}
