/**
 * `mloop run` as users run it: the real executable in a subprocess, real git
 * repositories in temporary folders, real child processes, a real server.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../api/app.js";
import { loadServerConfig } from "../config.js";
import type { TestApp } from "../../test/helpers/app.js";
import { listenTestApp } from "../../test/helpers/cli.js";
import { buildScratchCli } from "../../test/helpers/scratch-cli.js";

const repo = path.resolve(import.meta.dirname, "../..");
let built: ReturnType<typeof buildScratchCli> | undefined;
const venvBin = path.join(repo, ".venv", "bin");
const hasMlflow = fs.existsSync(path.join(venvBin, "python"));
let bin: string;
let server: TestApp & { uri: string };
let tmp: string;

beforeAll(async () => {
  built = buildScratchCli("run-test");
  bin = built.bin;
  server = await listenTestApp();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-run-"));
});

afterAll(async () => {
  await server?.close();
  built?.remove();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function baseEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: path.join(tmp, "home"),
    PATH: `${venvBin}${path.delimiter}${process.env.PATH}`,
    MLFLOW_TRACKING_URI: server.uri,
    ...extra,
  };
  delete env.MLFLOW_EXPERIMENT_NAME;
  delete env.MLFLOW_EXPERIMENT_ID;
  delete env.MLFLOW_RUN_ID;
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return env;
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  runId?: string;
}

function mloop(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; onStart?: (pid: number) => void } = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, "run", ...args], { cwd: opts.cwd ?? tmp, env: opts.env ?? baseEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => (stdout += b));
    child.stderr.on("data", (b) => (stderr += b));
    opts.onStart?.(child.pid!);
    child.on("close", (code) => {
      const m = stderr.match(/=== Run \(ID='([0-9a-f]+)'\) (succeeded|failed) ===/);
      resolve({ code, stdout, stderr, runId: m?.[1] });
    });
  });
}

function sh(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" } }).trim();
}

function gitRepo(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  sh(dir, "init", "-q", "-b", "main");
  commit(dir, files, "initial");
  return dir;
}

function commit(dir: string, files: Record<string, string>, message: string): string {
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  sh(dir, "add", "-A");
  sh(dir, "commit", "-q", "-m", message);
  return sh(dir, "rev-parse", "HEAD");
}

async function getRun(runId: string) {
  const res = await server.call("GET", `runs/get?run_id=${runId}`);
  expect(res.status).toBe(200);
  const run = res.body.run;
  const tags = Object.fromEntries((run.data.tags ?? []).map((t: { key: string; value: string }) => [t.key, t.value]));
  const params = Object.fromEntries((run.data.params ?? []).map((t: { key: string; value: string }) => [t.key, t.value]));
  const metrics = Object.fromEntries((run.data.metrics ?? []).map((t: { key: string; value: number }) => [t.key, t.value]));
  return { info: run.info, tags, params, metrics };
}

async function artifact(runId: string, artifactPath: string): Promise<string> {
  const run = await getRun(runId);
  const root = String(run.info.artifact_uri).replace(/^mlflow-artifacts:\/?/, "");
  const res = await server.app.inject({ method: "GET", url: `/api/2.0/mlflow-artifacts/artifacts/${root.replace(/^\//, "")}/${artifactPath}` });
  expect(res.statusCode).toBe(200);
  return res.body;
}

const TYPED = `
name: typed
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      epochs: int
      label: {type: string, default: "two words"}
      data: {type: path, default: data.csv}
    command: "bash show.sh {alpha} {epochs} {label} {data}"
  fail:
    parameters: {code: {type: int, default: 3}}
    command: "echo about to fail; exit {code}"
  sleep:
    command: "bash sleep.sh"
`;
const SHOW = `printf 'alpha=%s epochs=%s label=%s data=%s rest=%s\\n' "$1" "$2" "$3" "$4" "\${*:5}"; echo "run=$MLFLOW_RUN_ID exp=$MLFLOW_EXPERIMENT_ID uri=$MLFLOW_TRACKING_URI"; echo warn >&2\n`;
const SLEEP = `sleep 300 & echo $! > "$PIDFILE.tmp"; (sleep 300; echo never) & echo $! >> "$PIDFILE.tmp"; echo $$ >> "$PIDFILE.tmp"; mv "$PIDFILE.tmp" "$PIDFILE"; wait\n`;

describe("mloop run", () => {
  it("passes typed and defaulted parameters, logs them, records provenance and the output", async () => {
    const dir = gitRepo("typed", { MLproject: TYPED, "show.sh": SHOW, "data.csv": "a,b\n" });
    const head = sh(dir, "rev-parse", "HEAD");
    const r = await mloop([dir, "-P", "epochs=7", "-P", "extra=x y", "--experiment-name", "projects-typed", "--run-name", "typed-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`alpha=0.5 epochs=7 label=two words data=${fs.realpathSync(dir)}/data.csv rest=--extra x y`);
    expect(r.stdout).toMatch(new RegExp(`run=${r.runId} exp=\\d+ uri=${server.uri}`));
    expect(r.stderr.trimEnd().split("\n").pop()).toBe(`=== Run (ID='${r.runId}') succeeded ===`);
    const run = await getRun(r.runId!);
    expect(run.info.status).toBe("FINISHED");
    expect(run.info.run_name).toBe("typed-run");
    expect(run.params).toEqual({ alpha: "0.5", epochs: "7", label: "two words", data: "data.csv", extra: "x y" });
    expect(run.tags).toMatchObject({
      "mlflow.source.type": "PROJECT",
      "mlflow.source.name": `file://${dir}`,
      "mlflow.source.git.commit": head,
      "mlflow.source.git.dirty": "false",
      "mlflow.project.entryPoint": "main",
      "mlflow.project.env": "local",
      "mlflow.project.backend": "local",
      "mlflow.user": os.userInfo().username,
    });
    expect(run.tags["mlflow.source.git.branch"]).toBeUndefined();
    const output = await artifact(r.runId!, "mloop/output.log");
    expect(output).toContain("alpha=0.5 epochs=7");
    expect(output).toContain("warn");
  });

  it("refuses a missing required parameter and a bad type before anything starts", async () => {
    const dir = gitRepo("badparams", { MLproject: TYPED, "show.sh": SHOW, "data.csv": "" });
    const before = (await server.call("POST", "runs/search", { experiment_ids: ["0"], max_results: 1000 })).body.runs?.length ?? 0;
    const missing = await mloop([dir]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim()).toBe("mloop: entry point 'main': no value given for required parameter 'epochs'");
    const bad = await mloop([dir, "-P", "epochs=ten", "-P", "alpha=0.1"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toBe("mloop: entry point 'main': parameter 'epochs' must be an int, got 'ten'");
    const badPath = await mloop([dir, "-P", "epochs=1", "-P", "data=nope.csv"]);
    expect(badPath.stderr.trim()).toMatch(/^mloop: .*'nope.csv'.*no such file/);
    const after = (await server.call("POST", "runs/search", { experiment_ids: ["0"], max_results: 1000 })).body.runs?.length ?? 0;
    expect(after).toBe(before);
  });

  it("runs a git repository at --version: a branch and a commit, from file:// and a local path", async () => {
    const dir = gitRepo("versions", { MLproject: "entry_points:\n  main:\n    command: 'cat version.txt'\n", "version.txt": "v1\n" });
    const first = sh(dir, "rev-parse", "HEAD");
    sh(dir, "checkout", "-q", "-b", "feature");
    const featureHead = commit(dir, { "version.txt": "feature\n" }, "feature");
    sh(dir, "checkout", "-q", "main");
    commit(dir, { "version.txt": "v2\n" }, "second");
    sh(dir, "remote", "add", "origin", "https://user:secret@example.com/team/versions.git");

    const url = `file://${dir}`;
    const onBranch = await mloop([url, "--version", "feature"]);
    expect(onBranch.code, onBranch.stderr).toBe(0);
    expect(onBranch.stdout).toBe("feature\n");
    let run = await getRun(onBranch.runId!);
    expect(run.tags["mlflow.source.git.commit"]).toBe(featureHead);
    expect(run.tags["mlflow.source.git.branch"]).toBe("feature");
    expect(run.tags["mlflow.source.git.repoURL"]).toBe(url);
    expect(run.tags["mlflow.source.name"]).toBe(url);

    const atCommit = await mloop([url, "--version", first.slice(0, 10)]);
    expect(atCommit.code, atCommit.stderr).toBe(0);
    expect(atCommit.stdout).toBe("v1\n");
    run = await getRun(atCommit.runId!);
    expect(run.tags["mlflow.source.git.commit"]).toBe(first);
    expect(run.tags["mlflow.source.git.branch"]).toBeUndefined();

    // A local folder at --version runs a cached checkout and leaves the working tree alone.
    fs.writeFileSync(path.join(dir, "version.txt"), "uncommitted\n");
    const local = await mloop([dir, "--version", "feature"]);
    expect(local.stdout).toBe("feature\n");
    run = await getRun(local.runId!);
    expect(run.tags["mlflow.source.git.repoURL"]).toBe("https://example.com/team/versions.git");
    expect(run.tags["mlflow.source.git.dirty"]).toBe("false");
    expect(fs.readFileSync(path.join(dir, "version.txt"), "utf8")).toBe("uncommitted\n");

    const unknown = await mloop([url, "--version", "no-such-branch"]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.trim().split("\n").pop()).toMatch(/^mloop: Unable to checkout version 'no-such-branch'/);
  });

  it("records a dirty working tree with a tag and the diff as an artifact", async () => {
    const dir = gitRepo("dirty", { MLproject: "entry_points:\n  main:\n    command: 'cat model.txt'\n", "model.txt": "clean\n" });
    fs.writeFileSync(path.join(dir, "model.txt"), "edited\n");
    const r = await mloop([`${dir}`]);
    expect(r.code, r.stderr).toBe(0);
    const run = await getRun(r.runId!);
    expect(run.tags["mlflow.source.git.dirty"]).toBe("true");
    expect(run.tags["mloop.source.git.diff"]).toBe("mloop/git-diff.patch");
    const diff = await artifact(r.runId!, "mloop/git-diff.patch");
    expect(diff).toContain("-clean");
    expect(diff).toContain("+edited");
  });

  it("marks a failing entry point FAILED and keeps its exit code", async () => {
    const dir = gitRepo("failing", { MLproject: TYPED, "show.sh": SHOW });
    const r = await mloop([dir, "-e", "fail", "-P", "code=3"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain("about to fail");
    expect(r.stderr.trimEnd().split("\n").pop()).toBe(`=== Run (ID='${r.runId}') failed ===`);
    const run = await getRun(r.runId!);
    expect(run.info.status).toBe("FAILED");
    expect(run.info.end_time).toBeGreaterThan(0);
  });

  it("forwards SIGTERM to the whole process group: run KILLED, no process left", async () => {
    const dir = gitRepo("sleeper", { MLproject: TYPED, "sleep.sh": SLEEP });
    const pidFile = path.join(tmp, "sleeper.pids");
    let mloopPid = 0;
    const done = mloop([dir, "-e", "sleep"], { env: baseEnv({ PIDFILE: pidFile }), onStart: (pid) => (mloopPid = pid) });
    while (!fs.existsSync(pidFile)) await new Promise((r) => setTimeout(r, 50));
    const pids = fs.readFileSync(pidFile, "utf8").trim().split("\n").map(Number);
    expect(pids).toHaveLength(3);
    const pgid = Number(execFileSync("ps", ["-o", "pgid=", "-p", String(pids[2])], { encoding: "utf8" }).trim());
    expect(pgid).not.toBe(mloopPid);
    process.kill(mloopPid, "SIGTERM");
    const r = await done;
    expect(r.code).toBe(143);
    expect(r.stderr.trimEnd().split("\n").pop()).toBe(`=== Run (ID='${r.runId}') failed ===`);
    expect((await getRun(r.runId!)).info.status).toBe("KILLED");
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(pids.filter(alive)).toEqual([]);
    expect(alive(-pgid)).toBe(false);
  });

  it.skipIf(!hasMlflow)("lets the mlflow client inside the child log metrics into the same run", async () => {
    const dir = gitRepo("mlflow-child", {
      MLproject: "entry_points:\n  main:\n    parameters: {lr: {type: float, default: 0.01}}\n    command: 'python train.py --lr {lr}'\n",
      "train.py": [
        "import sys, mlflow",
        "lr = float(sys.argv[2])",
        "with mlflow.start_run() as run:",
        "    for step in range(3):",
        "        mlflow.log_metric('loss', 1.0 / (step + 1) * lr, step=step)",
        "    mlflow.log_param('inner', 'yes')",
        "    print('inside', run.info.run_id)",
        "",
      ].join("\n"),
    });
    const r = await mloop([dir, "-P", "lr=0.5", "--experiment-name", "projects-mlflow-child"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`inside ${r.runId}`);
    const run = await getRun(r.runId!);
    expect(run.info.status).toBe("FINISHED");
    expect(run.params).toMatchObject({ lr: "0.5", inner: "yes" });
    expect(run.metrics.loss).toBeCloseTo(0.5 / 3);
    const hist = await server.call("GET", `metrics/get-history?run_id=${r.runId}&metric_key=loss`);
    expect(hist.body.metrics).toHaveLength(3);
  }, 180_000);

  it("without a tracking URI records into ./mlruns.db and ./mlartifacts, where mloop server finds it", async () => {
    const dir = gitRepo("embedded", { MLproject: "entry_points:\n  main:\n    command: 'echo embedded'\n" });
    const work = fs.mkdtempSync(path.join(tmp, "cwd-"));
    const r = await mloop([dir, "--experiment-name", "local-store"], { cwd: work, env: baseEnv({ MLFLOW_TRACKING_URI: undefined }) });
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(work, "mlruns.db"))).toBe(true);
    const app = await buildApp(loadServerConfig({}, {}, work), { logger: false });
    try {
      const res = await app.inject({ method: "GET", url: `/api/2.0/mlflow/runs/get?run_id=${r.runId}` });
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body).run.info.status).toBe("FINISHED");
      const files = fs.readdirSync(path.join(work, "mlartifacts"), { recursive: true, encoding: "utf8" });
      expect(files.some((f) => f.endsWith(path.join("mloop", "output.log")))).toBe(true);
    } finally {
      await app.close();
    }
  });

  it("gives one clear line for unavailable environments and backends", async () => {
    const dir = gitRepo("envs", { MLproject: "conda_env: conda.yaml\nentry_points:\n  main:\n    command: 'echo hi'\n", "conda.yaml": "name: x\n" });
    const conda = await mloop([dir]);
    expect(conda.code).not.toBe(0);
    expect(conda.stderr.trim()).toMatch(/^mloop: this project declares a conda environment, which needs conda and is not supported; use --env-manager local/);
    const flag = await mloop([dir, "--env-manager", "conda"]);
    expect(flag.stderr.trim()).toMatch(/^mloop: --env-manager conda needs conda/);
    const backend = await mloop([dir, "-b", "kubernetes"]);
    expect(backend.stderr.trim()).toMatch(/^mloop: backend 'kubernetes' is not available here/);
    const ok = await mloop([dir, "--env-manager", "local"]);
    expect(ok.code).toBe(0);
  });
});

describe.skipIf(!hasMlflow)("mloop run and mlflow run on the same MLproject", () => {
  const MLPROJECT = [
    "name: compare",
    "entry_points:",
    "  main:",
    "    parameters:",
    "      alpha: {type: float, default: 0.25}",
    "      steps: {type: int, default: 4}",
    "      tag: {type: string, default: base}",
    "    command: 'python train.py {alpha} {steps} {tag}'",
    "",
  ].join("\n");
  const TRAIN = [
    "import sys, mlflow",
    "alpha, steps, tag = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]",
    "extra = sys.argv[4:]",
    "with mlflow.start_run():",
    "    for s in range(steps):",
    "        mlflow.log_metric('loss', alpha / (s + 1), step=s)",
    "    mlflow.log_metric('final', alpha * steps + len(tag) + len(extra))",
    "",
  ].join("\n");
  // Tags MLflow's project runner writes; mloop must write each with the same value.
  const SOURCE_TAGS = [
    "mlflow.source.name",
    "mlflow.source.type",
    "mlflow.source.git.commit",
    "mlflow.source.git.repoURL",
    "mlflow.source.git.branch",
    "mlflow.project.entryPoint",
    "mlflow.project.backend",
    "mlflow.user",
  ];

  function mlflowRun(args: string[]): Promise<Result> {
    return new Promise((resolve) => {
      const child = spawn(path.join(venvBin, "mlflow"), ["run", ...args], { cwd: tmp, env: baseEnv(), stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (b) => (stdout += b));
      child.stderr.on("data", (b) => (stderr += b));
      child.on("close", (code) => {
        // MLflow itself prints "=== Run (ID '…') succeeded ===".
        const m = stderr.match(/=== Run \(ID '([0-9a-f]+)'\) (succeeded|failed) ===/);
        resolve({ code, stdout, stderr, runId: m?.[1] });
      });
    });
  }

  async function compare(args: string[]) {
    const [theirs, ours] = [await mlflowRun(args), await mloop(args)];
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(ours.code, ours.stderr).toBe(0);
    const a = await getRun(theirs.runId!);
    const b = await getRun(ours.runId!);
    expect(b.params).toEqual(a.params);
    expect(b.metrics).toEqual(a.metrics);
    const pick = (tags: Record<string, string>) => Object.fromEntries(SOURCE_TAGS.filter((k) => k in tags).map((k) => [k, tags[k]]));
    expect(pick(b.tags)).toEqual(pick(a.tags));
    expect(pick(a.tags)["mlflow.source.git.commit"]).toMatch(/^[0-9a-f]{40}$/);
    expect(a.info.experiment_id).toBe(b.info.experiment_id);
    return { a, b };
  }

  it("gives the same params, source tags and metrics for a local project", async () => {
    const dir = gitRepo("compare-local", { MLproject: MLPROJECT, "train.py": TRAIN });
    sh(dir, "remote", "add", "origin", "https://example.com/team/compare.git");
    const { a } = await compare([dir, "--env-manager", "local", "--experiment-name", "compare", "-P", "alpha=0.5", "-P", "extra=1"]);
    expect(a.params).toEqual({ alpha: "0.5", steps: "4", tag: "base", extra: "1" });
    expect(a.tags["mlflow.source.git.repoURL"]).toBe("https://example.com/team/compare.git");
  }, 300_000);

  it("gives the same params, source tags and metrics at a --version branch", async () => {
    const dir = gitRepo("compare-branch", { MLproject: MLPROJECT, "train.py": TRAIN });
    sh(dir, "checkout", "-q", "-b", "tuned");
    commit(dir, { "train.py": TRAIN.replace("alpha / (s + 1)", "alpha / (s + 2)") }, "tuned");
    sh(dir, "checkout", "-q", "main");
    // mlflow run fetches the version from the repository's origin, so give it one it can reach.
    const origin = path.join(tmp, "compare-branch-origin.git");
    execFileSync("git", ["clone", "-q", "--bare", dir, origin]);
    sh(dir, "remote", "add", "origin", `file://${origin}`);
    // mlflow run checks the version out in place, so it runs second: mloop's run sees the tree as the user left it.
    const ours = await mloop([dir, "--env-manager", "local", "--experiment-name", "compare", "--version", "tuned", "-P", "steps=2"]);
    const theirs = await mlflowRun([dir, "--env-manager", "local", "--experiment-name", "compare", "--version", "tuned", "-P", "steps=2"]);
    expect(ours.code, ours.stderr).toBe(0);
    expect(theirs.code, theirs.stderr).toBe(0);
    const a = await getRun(theirs.runId!);
    const b = await getRun(ours.runId!);
    expect(b.params).toEqual(a.params);
    expect(b.metrics).toEqual(a.metrics);
    expect(b.metrics.loss).toBeCloseTo(0.25 / 3);
    for (const k of SOURCE_TAGS) expect([k, b.tags[k]]).toEqual([k, a.tags[k]]);
    expect(b.tags["mlflow.source.git.branch"]).toBe("tuned");
    expect(b.tags["mlflow.source.git.repoURL"]).toBe(`file://${origin}`);
  }, 300_000);
});

describe("--env-manager virtualenv", () => {
  it("builds the example's python_env.yaml into a cached venv, trains, logs and reuses the venv", async () => {
    const example = path.join(repo, "examples", "sklearn-classifier");
    const work = fs.mkdtempSync(path.join(tmp, "venv-"));
    // No .venv on PATH: everything the project imports must come from the venv mloop builds.
    const env = baseEnv({ PATH: process.env.PATH!.split(path.delimiter).filter((p) => !p.startsWith(path.join(repo, ".venv"))).join(path.delimiter) });
    const r = await mloop([example, "--env-manager", "virtualenv", "-P", "dataset=wine", "--experiment-name", "venv-example"], { cwd: work, env });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stderr).toContain("=== Creating virtualenv");
    const run = await getRun(r.runId!);
    expect(run.info.status).toBe("FINISHED");
    expect(run.tags["mlflow.project.env"]).toBe("virtualenv");
    expect(run.params).toMatchObject({ dataset: "wine", C: "1.0", max_iter: "200", register: "false" });
    expect(run.metrics.accuracy).toBeGreaterThan(0.8);
    const mlmodel = await artifact(r.runId!, "model/MLmodel");
    expect(mlmodel).toMatch(/^ {2}onnx:/m);
    expect(mlmodel).toMatch(/^ {2}sklearn:/m);
    expect(mlmodel).toMatch(/^ {2}python_function:/m);

    const { ensureVirtualenv } = await import("./env.js");
    const savedPath = process.env.PATH;
    process.env.PATH = env.PATH; // the same python3 as the run, so the same content hash
    try {
      const again = await ensureVirtualenv(path.join(example, "python_env.yaml"), example, path.join(tmp, "home", ".mloop", "envs"), () => undefined);
      expect(again.reused).toBe(true);
    } finally {
      process.env.PATH = savedPath;
    }
  }, 900_000);
});
