/**
 * `mloop worker` processes consuming project runs from Redis: one worker is
 * SIGKILLed mid-run and the run is taken over by the other (or, with no
 * retries left, marked FAILED with the reason) — never lost or left RUNNING.
 * Output streams back to the submitter and into the run's log artifact.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MloopClient } from "../../src/client/index.js";
import { loadQueueConfig, type QueueConfig } from "../../src/config.js";
import { followRun, QUEUE_TAGS, submitRun } from "../../src/queue/index.js";
import { openQueue, type QueuedRun } from "../../src/queue/jobs.js";
import { buildScratchBinary, startServer, stopProcess, type ServerProcess } from "./harness.js";
import { canStartRedis, startRedis } from "./redis.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Processes whose environment names the run (the run's command and its guard). */
function processesOfRun(runId: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(`MLFLOW_RUN_ID=${runId}`)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

describe.skipIf(!canStartRedis())("mloop worker on a Redis queue", () => {
  let redis: { url: string; stop(): Promise<void> };
  let server: ServerProcess;
  let bin: string;
  let cleanup: () => void;
  let dir: string;
  let client: MloopClient;
  const workers: ChildProcess[] = [];

  const startWorker = async (config: QueueConfig, maxStalled: number, env: Record<string, string> = {}): Promise<ChildProcess> => {
    const child = spawn(process.execPath, [bin, "worker", "--redis-url", config.redisUrl, "--queue", config.queueName], {
      env: { ...process.env, ...env, MLOOP_QUEUE_LOCK_MS: "2000", MLOOP_QUEUE_STALLED_CHECK_MS: "1000", MLOOP_QUEUE_MAX_STALLED: String(maxStalled) },
      stdio: ["ignore", "ignore", "pipe"],
    });
    workers.push(child);
    let err = "";
    child.stderr!.setEncoding("utf8");
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on("data", (d: string) => {
        err += d;
        if (err.includes("consuming queue")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`worker exited with ${code}: ${err}`)));
    });
    return child;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-queue-"));
    const built = buildScratchBinary("queue");
    bin = built.bin;
    cleanup = built.cleanup;
    redis = await startRedis();
    server = await startServer(bin, ["--backend-store-uri", `sqlite:///${path.join(dir, "mlruns.db")}`, "--artifacts-destination", path.join(dir, "artifacts")]);
    client = new MloopClient({ trackingUri: server.url });
    const project = path.join(dir, "project");
    fs.mkdirSync(project);
    fs.writeFileSync(
      path.join(project, "MLproject"),
      ["name: slow", "entry_points:", "  main:", "    parameters:", "      epochs: {type: int, default: 3}", "      code: {type: int, default: 0}", "    command: bash train.sh {epochs} {code}", ""].join("\n"),
    );
    fs.writeFileSync(
      path.join(project, "train.sh"),
      'echo "training run $MLFLOW_RUN_ID"\nfor i in $(seq 1 "$1"); do echo "epoch $i"; sleep 0.5; done\necho "done"\nexit "$2"\n',
    );
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => stopProcess(w)));
    await server?.stop();
    await redis?.stop();
    cleanup?.();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const queueConfig = () => loadQueueConfig({ redisUrl: redis.url, queueName: `q-${randomBytes(4).toString("hex")}` }, {});

  it("moves a run whose worker is killed to the other worker, which finishes it", async () => {
    const config = queueConfig();
    const pair = [await startWorker(config, 1), await startWorker(config, 1)];
    const submitted = await submitRun({ config, trackingUri: server.url, uri: path.join(dir, "project"), parameters: { epochs: "8" }, experimentName: "queued" });
    expect((await client.getRun(submitted.runId)).info.run_id).toBe(submitted.runId);

    const lines: string[] = [];
    const followed = followRun(config, submitted.runId, (l) => lines.push(l));
    await until("the first epoch", async () => (lines.some((l) => l === "epoch 2") ? true : undefined));
    const first = (await client.getRun(submitted.runId)).data.tags?.find((t) => t.key === QUEUE_TAGS.worker)?.value;
    const victim = pair.find((w) => first?.endsWith(`:${w.pid}`))!;
    expect(victim).toBeDefined();
    victim.kill("SIGKILL");

    const end = await followed;
    expect(end?.status).toBe("FINISHED");
    const run = await client.getRun(submitted.runId);
    expect(run.info.status).toBe("FINISHED");
    const tags = Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
    expect(tags[QUEUE_TAGS.attempt]).toBe("2");
    expect(tags[QUEUE_TAGS.worker]).not.toBe(first);
    expect(tags[QUEUE_TAGS.jobId]).toBe(submitted.runId);
    // Both attempts streamed back, the second one to the end.
    expect(lines.filter((l) => l === `training run ${submitted.runId}`)).toHaveLength(2);
    expect(lines).toContain("epoch 8");
    const log = await until("the log artifact", async () => {
      const files = await client.listArtifacts(submitted.runId).catch(() => []);
      return files.some((f) => f.path === "mloop-run.log") ? true : undefined;
    });
    expect(log).toBe(true);
    await Promise.all(pair.map((w) => stopProcess(w)));
  });

  it("marks a run FAILED with the reason when its command fails or its last worker dies", async () => {
    const config = queueConfig();
    const pair = [await startWorker(config, 0), await startWorker(config, 0)];

    const failing = await submitRun({ config, trackingUri: server.url, uri: path.join(dir, "project"), parameters: { epochs: "1", code: "3" } });
    const failed = await followRun(config, failing.runId, () => undefined);
    expect(failed?.status).toBe("FAILED");
    const run = await client.getRun(failing.runId);
    expect(run.info.status).toBe("FAILED");
    expect(run.data.tags?.find((t) => t.key === QUEUE_TAGS.failureReason)?.value).toMatch(/exited with code 3/);

    // No retries left (max stalled 0): the surviving worker's stalled check fails the job and the run.
    const lost = await submitRun({ config, trackingUri: server.url, uri: path.join(dir, "project"), parameters: { epochs: "20" } });
    const lines: string[] = [];
    const followed = followRun(config, lost.runId, (l) => lines.push(l));
    await until("the first epoch", async () => (lines.includes("epoch 1") ? true : undefined));
    const holder = (await client.getRun(lost.runId)).data.tags?.find((t) => t.key === QUEUE_TAGS.worker)?.value;
    pair.find((w) => holder?.endsWith(`:${w.pid}`))!.kill("SIGKILL");
    const end = await followed;
    expect(end?.status).toBe("FAILED");
    const after = await client.getRun(lost.runId);
    expect(after.info.status).toBe("FAILED");
    expect(after.data.tags?.find((t) => t.key === QUEUE_TAGS.failureReason)?.value).toMatch(/stalled/i);
    // The killed worker's command was stopped with it: no process of that run is left.
    await until("the orphaned command to stop", async () => (processesOfRun(lost.runId).length === 0 ? true : undefined), 10_000);
    await Promise.all(pair.map((w) => stopProcess(w)));
  });

  it("runs `mloop run --backend queue` end to end, streaming the output back", async () => {
    const config = queueConfig();
    const worker = await startWorker(config, 1);
    const child = spawn(process.execPath, [bin, "run", path.join(dir, "project"), "--backend", "queue", "-P", "epochs=2", "--experiment-name", "cli-queued", "--tracking-uri", server.url], {
      env: { ...process.env, MLOOP_REDIS_URL: config.redisUrl, MLOOP_QUEUE_NAME: config.queueName },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(0);
    expect(out).toContain("epoch 2");
    const id = /=== Run \(ID='(\w+)'\) succeeded ===/.exec(err)?.[1];
    expect(id).toBeDefined();
    expect((await client.getRun(id!)).info.status).toBe("FINISHED");
    await stopProcess(worker);
  });
  /** Runs the mloop CLI to its end. */
  const cli = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
      child.once("exit", (code) => resolve({ code, out, err }));
    });

  const tagsOf = async (runId: string) => Object.fromEntries(((await client.getRun(runId)).data.tags ?? []).map((t) => [t.key, t.value]));
  const paramsOf = async (runId: string) => Object.fromEntries(((await client.getRun(runId)).data.params ?? []).map((p) => [p.key, p.value]));

  /** A project in a real git repository with two commits; returns the folder and both commits. */
  const gitProject = () => {
    const repo = path.join(dir, `git-project-${randomBytes(3).toString("hex")}`);
    fs.mkdirSync(repo);
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=Queue Test", "-c", "user.email=queue@example.com", "-c", "init.defaultBranch=main", ...args], { cwd: repo, encoding: "utf8" }).trim();
    git("init", "-q");
    fs.writeFileSync(
      path.join(repo, "MLproject"),
      ["name: typed", "entry_points:", "  train:", "    parameters:", "      epochs: {type: int, default: 1}", "      alpha: {type: float, default: 0.1}", "      label: {type: string, default: plain}", "    command: bash train.sh {epochs} {alpha} {label}", ""].join("\n"),
    );
    fs.writeFileSync(path.join(repo, "train.sh"), 'echo "version one: epochs=$1 alpha=$2 label=$3"\n');
    git("add", "-A");
    git("commit", "-qm", "first");
    const first = git("rev-parse", "HEAD");
    fs.writeFileSync(path.join(repo, "train.sh"), 'echo "version two: epochs=$1 alpha=$2 label=$3"\n');
    git("commit", "-qam", "second");
    const second = git("rev-parse", "HEAD");
    return { repo, first, second };
  };

  it("records a queued run of a git project with the same provenance tags and typed params as a local `mloop run`", async () => {
    const config = queueConfig();
    const { repo, first, second } = gitProject();
    const home = path.join(dir, "home");
    fs.mkdirSync(home, { recursive: true });
    const worker = await startWorker(config, 1, { HOME: home });
    const common = [repo, "-e", "train", "-P", "epochs=3", "-P", "alpha=0.5", "-P", "label=two words", "--tracking-uri", server.url];

    const local = await cli(["run", ...common, "--experiment-name", "git-local"], { HOME: home });
    expect(local.code).toBe(0);
    const localId = /=== Run \(ID='(\w+)'\) succeeded ===/.exec(local.err)?.[1];
    expect(localId).toBeDefined();

    const queued = await cli(["run", ...common, "--backend", "queue", "--experiment-name", "git-queued", "--run-name", "queued-typed"], {
      HOME: home,
      MLOOP_REDIS_URL: config.redisUrl,
      MLOOP_QUEUE_NAME: config.queueName,
    });
    expect(queued.code).toBe(0);
    expect(queued.out).toContain("version two: epochs=3 alpha=0.5 label=two words");
    const queuedId = /=== Run \(ID='(\w+)'\) succeeded ===/.exec(queued.err)?.[1];
    expect(queuedId).toBeDefined();

    const localTags = await tagsOf(localId!);
    const queuedTags = await tagsOf(queuedId!);
    expect(localTags["mlflow.source.git.commit"]).toBe(second);
    for (const key of ["mlflow.source.git.commit", "mlflow.source.git.dirty", "mlflow.source.name", "mlflow.source.type", "mlflow.project.entryPoint", "mlflow.project.env", "mlflow.user"]) {
      expect([key, queuedTags[key]]).toEqual([key, localTags[key]]);
    }
    expect(queuedTags["mlflow.project.entryPoint"]).toBe("train");
    expect(queuedTags["mlflow.project.backend"]).toBe("queue");
    expect(queuedTags["mlflow.runName"]).toBe("queued-typed");
    expect(await paramsOf(queuedId!)).toEqual(await paramsOf(localId!));
    expect(await paramsOf(queuedId!)).toEqual({ epochs: "3", alpha: "0.5", label: "two words" });
    const run = await client.getRun(queuedId!);
    expect(run.info.status).toBe("FINISHED");
    // The same output artifact as a local run, plus the queue's streamed log.
    const files = (await client.listArtifacts(queuedId!)).map((f) => f.path);
    expect(files).toContain("mloop-run.log");
    expect((await client.listArtifacts(queuedId!, "mloop")).map((f) => f.path)).toContain("mloop/output.log");

    // A git URL at an older version: each worker clones it and runs that commit.
    const lines: string[] = [];
    const byUrl = await submitRun({ config, trackingUri: server.url, uri: `file://${repo}`, version: first, entryPoint: "train", parameters: { epochs: "2" } });
    expect((await followRun(config, byUrl.runId, (l) => lines.push(l)))?.status).toBe("FINISHED");
    expect(lines).toContain("version one: epochs=2 alpha=0.1 label=plain");
    const urlTags = await tagsOf(byUrl.runId);
    expect(urlTags["mlflow.source.git.commit"]).toBe(first);
    expect(urlTags["mlflow.source.name"]).toBe(`file://${repo}`);
    expect(await paramsOf(byUrl.runId)).toEqual({ epochs: "2", alpha: "0.1", label: "plain" });
    await stopProcess(worker);
  });

  it("refuses a bad parameter at submission with one line, and fails a queued run whose parameter is bad with the reason", async () => {
    const config = queueConfig();
    const { repo } = gitProject();
    const env = { MLOOP_REDIS_URL: config.redisUrl, MLOOP_QUEUE_NAME: config.queueName, HOME: path.join(dir, "home") };
    const bad = await cli(["run", repo, "-e", "train", "-P", "epochs=many", "--backend", "queue", "--tracking-uri", server.url, "--experiment-name", "never-queued"], env);
    expect(bad.code).toBe(1);
    const errLines = bad.err.trim().split("\n");
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(/^mloop: .*epochs/);
    // Nothing was queued, and no run was created.
    const queue = openQueue(config);
    try {
      expect(await queue.count()).toBe(0);
      expect(await client.getExperimentByName("never-queued")).toBeUndefined();

      // A job that reaches a worker with a bad parameter (queued by an older submitter) fails with mloop run's reason.
      const worker = await startWorker(config, 0, { HOME: path.join(dir, "home") });
      const run = await client.createRun({ experimentId: "0" });
      await client.updateRun(run.info.run_id, { status: "SCHEDULED" });
      const data: QueuedRun = { runId: run.info.run_id, experimentId: "0", trackingUri: server.url, uri: repo, entryPoint: "train", parameters: { epochs: "many" }, submittedAt: Date.now() };
      await queue.add("run", data, { jobId: data.runId, attempts: 1 });
      const end = await followRun(config, data.runId, () => undefined);
      expect(end?.status).toBe("FAILED");
      const after = await client.getRun(data.runId);
      expect(after.info.status).toBe("FAILED");
      const reason = after.data.tags?.find((t) => t.key === QUEUE_TAGS.failureReason)?.value ?? "";
      expect(reason).toMatch(/epochs/);
      expect(reason).not.toContain("\n");
      await stopProcess(worker);
    } finally {
      await queue.close();
    }
  });
});
