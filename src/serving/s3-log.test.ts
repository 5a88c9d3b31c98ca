/**
 * The prediction log on S3-compatible storage (moto from .venv): Parquet
 * objects that pyarrow reads, a spool that survives a crash, and the mirror
 * the monitor reads.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../test/helpers/cli.js";
import { HAS_MOTO, S3TestServer } from "../../test/helpers/s3-server.js";
import { loadServeConfig, loadMonitorConfig } from "../config.js";
import { readPredictionLog, S3LogMirror, S3PredictionLog, type PredictionRecord } from "./index.js";

const PYTHON = path.resolve(import.meta.dirname, "../../.venv/bin/python");
const SERVING_DIST = path.resolve(import.meta.dirname, "../../dist/serving/index.js");

/** Writes the records it is given and a label with the store down, says so once an upload failed, then waits to be killed. */
const CRASHING_WRITER = `
import { pathToFileURL } from "node:url";
const { S3PredictionLog } = await import(pathToFileURL(process.env.SERVING).href);
const log = new S3PredictionLog(JSON.parse(process.env.LOG_OPTS));
let acks = 0;
for (const r of JSON.parse(process.env.RECORDS)) if (await log.sink.write(r)) acks++;
const feedback = await log.feedback.add([{ request_id: "req-3", label: 1, timestamp_ms: 9 }]);
for (let t = Date.now(); log.uploadStats().uploadFailures === 0 && Date.now() - t < 30000; ) await new Promise((r) => setTimeout(r, 50));
process.stdout.write(JSON.stringify({ acks, feedback, uploadFailures: log.uploadStats().uploadFailures }) + "\\n");
setInterval(() => {}, 1000);
`;

/** Reads every Parquet object under `s3://bucket/prefix/kind/` with pyarrow, as the rows' dicts. */
function readWithPyarrow(server: S3TestServer, bucket: string, prefix: string, kind: string): Record<string, unknown>[] {
  const script = `
import json, sys
import pyarrow.parquet as pq
from pyarrow import fs
s3 = fs.S3FileSystem(endpoint_override=sys.argv[1], scheme="http", access_key="testing", secret_key="testing", region="us-east-1")
rows = []
for info in sorted(s3.get_file_info(fs.FileSelector(sys.argv[2], recursive=True)), key=lambda i: i.path):
    if info.path.endswith(".parquet"):
        table = pq.read_table(info.path, filesystem=s3)
        types = {f.name: str(f.type) for f in table.schema}
        for r in table.to_pylist():
            r["_types"] = types
            rows.append(r)
print(json.dumps(rows, default=str))
`;
  const res = spawnSync(PYTHON, ["-c", script, server.endpoint, `${bucket}/${prefix}/${kind}`], { encoding: "utf8" });
  if (res.status !== 0) throw new Error(res.stderr);
  return JSON.parse(res.stdout) as Record<string, unknown>[];
}

function record(i: number): PredictionRecord {
  return {
    requestId: `req-${i}`,
    timestampMs: 1_700_000_000_000 + i,
    model: "iris",
    version: "3",
    role: i % 5 === 0 ? "challenger" : "champion",
    status: i % 7 === 0 ? 400 : 200,
    latencyMs: 1.25 + i,
    inputs: JSON.stringify({ columns: ["a", "b"], data: [[i, i / 2]] }),
    ...(i % 7 === 0 ? { error: `row ${i} is bad` } : { predictions: JSON.stringify([i % 3]) }),
  };
}

describe.skipIf(!HAS_MOTO || !fs.existsSync(PYTHON))("prediction log on S3 (moto)", () => {
  let server: S3TestServer;
  let dir: string;

  beforeAll(async () => {
    server = await S3TestServer.start();
    await server.createBucket("logs");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-s3log-"));
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("each flush is one Parquet object pyarrow reads, with every record and label; the spool is emptied", async () => {
    const spoolDir = path.join(dir, "spool-a");
    const log = new S3PredictionLog({ uri: "s3://logs/iris/a", s3: server.settings(), spoolDir, flushIntervalMs: 100 });
    const acks = await Promise.all(Array.from({ length: 40 }, (_, i) => log.sink.write(record(i))));
    expect(acks.every(Boolean)).toBe(true);
    expect(await log.feedback.add([{ request_id: "req-1", label: 2, timestamp_ms: 5 }, { request_id: "req-2", label: "cat", timestamp_ms: 6 }])).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
    for (let i = 40; i < 50; i++) await log.sink.write(record(i));
    await log.close();

    const rows = readWithPyarrow(server, "logs", "iris/a", "predictions");
    expect(rows.map((r) => r.request_id)).toEqual(Array.from({ length: 50 }, (_, i) => `req-${i}`));
    expect(log.uploadStats()).toMatchObject({ uploadedRecords: 50, uploadFailures: 0, spooledSegments: 0 });
    expect(log.uploadStats().uploadedObjects).toBeGreaterThanOrEqual(2);
    const r7 = rows[7]!;
    expect(r7).toMatchObject({ timestamp_ms: 1_700_000_000_007, model: "iris", version: "3", status: 400, latency_ms: 8.25, predictions: null, error: "row 7 is bad" });
    expect(JSON.parse(String(rows[3]!.inputs))).toEqual({ columns: ["a", "b"], data: [[3, 1.5]] });
    expect(JSON.parse(String(rows[3]!.predictions))).toEqual([0]);
    expect(r7._types).toMatchObject({ request_id: "string", timestamp_ms: "int64", status: "int32", latency_ms: "double" });

    const labels = readWithPyarrow(server, "logs", "iris/a", "feedback");
    expect(labels.map((l) => [l.request_id, JSON.parse(String(l.label))])).toEqual([
      ["req-1", 2],
      ["req-2", "cat"],
    ]);
    expect(fs.readdirSync(spoolDir).filter((f) => f.endsWith(".jsonl"))).toEqual([]);
  });

  it("answered predictions survive a crash before upload: the spool is uploaded on the next start; the mirror reads it back", async () => {
    const spoolDir = path.join(dir, "spool-b");
    const uri = "s3://logs/iris/b";
    await server.stop(); // the store is down: nothing can be uploaded
    // a real process writes, fails to upload, and is killed with SIGKILL
    const child = spawn(process.execPath, ["--input-type=module", "-e", CRASHING_WRITER], {
      env: { ...process.env, LOG_OPTS: JSON.stringify({ uri, s3: server.settings(), spoolDir, flushIntervalMs: 50 }),
        RECORDS: JSON.stringify(Array.from({ length: 20 }, (_, i) => record(i))), SERVING: SERVING_DIST },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const said = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
        if (out.includes("\n")) resolve(out.trim());
      });
      child.on("exit", (code) => reject(new Error(`the writer exited with ${code} before it was killed: ${out}`)));
    });
    expect(JSON.parse(said)).toMatchObject({ acks: 20, feedback: true });
    expect(JSON.parse(said).uploadFailures).toBeGreaterThan(0);
    const gone = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await gone;
    // the process is gone without closing anything; the store comes back (empty: moto keeps nothing)
    await server.resume();
    await server.createBucket("logs");

    const next = new S3PredictionLog({ uri, s3: server.settings(), spoolDir, flushIntervalMs: 50 });
    await next.sink.write(record(20));
    await next.close();
    expect(readWithPyarrow(server, "logs", "iris/b", "predictions").map((r) => r.request_id)).toEqual(Array.from({ length: 21 }, (_, i) => `req-${i}`));

    const mirrorDir = path.join(dir, "mirror");
    const mirror = new S3LogMirror(uri, server.settings(), mirrorDir);
    expect(await mirror.sync()).toBeGreaterThan(0);
    expect(await mirror.sync()).toBe(0);
    mirror.close();
    const { predictions, feedback } = readPredictionLog(mirrorDir);
    expect(predictions.map((p) => p.request_id)).toEqual(Array.from({ length: 21 }, (_, i) => `req-${i}`));
    expect(predictions[7]).toEqual({ request_id: "req-7", timestamp_ms: 1_700_000_000_007, model: "iris", version: "3", role: "champion", status: 400, latency_ms: 8.25, inputs: { columns: ["a", "b"], data: [[7, 3.5]] }, error: "row 7 is bad" });
    expect(predictions[3]!.predictions).toEqual([0]);
    expect(feedback).toEqual([{ request_id: "req-3", label: 1, timestamp_ms: 9 }]);

    // `mloop monitor start --log-dir s3://…` reads the same log
    const ref = path.join(dir, "ref.csv");
    fs.writeFileSync(ref, ["a,b", ...Array.from({ length: 50 }, (_, i) => `${i % 20},${(i % 20) / 2}`)].join("\n"));
    process.env.MLFLOW_S3_ENDPOINT_URL = server.endpoint;
    process.env.AWS_ACCESS_KEY_ID = process.env.AWS_SECRET_ACCESS_KEY = "testing";
    try {
      const cli = await runCli("monitor", "start", "--reference", ref, "--log-dir", uri, "--state-dir", path.join(dir, "monitor"), "--once", "--json", "--no-tracking", "--port", "0");
      expect(cli.stderr).toBe("");
      const windows = cli.stdout.trim().split("\n").map((l) => JSON.parse(l) as { rows: number });
      expect(windows.reduce((n, w) => n + w.rows, 0)).toBe(predictions.filter((p) => p.status === 200).length);
    } finally {
      delete process.env.MLFLOW_S3_ENDPOINT_URL;
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  }, 60_000);

  it("--prediction-log s3://… configures serving; the monitor's --log-dir s3://… reads a local copy", () => {
    const env = { MLFLOW_S3_ENDPOINT_URL: server.endpoint };
    const cfg = loadServeConfig({ predictionLog: "s3://logs/iris", logDir: "/tmp/spool" }, env, "/work");
    expect(cfg).toMatchObject({ predictionLogUri: "s3://logs/iris", logDir: "/tmp/spool", s3: { endpointUrl: server.endpoint } });
    const local = loadServeConfig({ predictionLog: "./here" }, {}, "/work");
    expect(local.logDir).toBe("/work/here");
    expect(local.predictionLogUri).toBeUndefined();
    expect(() => loadServeConfig({ predictionLog: "s3://" }, {}, "/work")).toThrow(/s3:\/\/bucket\/prefix/);
    const mon = loadMonitorConfig({ logDir: "s3://logs/iris/b" }, env, "/work");
    expect(mon).toMatchObject({ logUri: "s3://logs/iris/b", logDir: "/work/mloop-monitor/log/logs/iris/b" });
  });
});
