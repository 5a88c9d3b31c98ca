import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { MloopClient } from "../../src/client/index.js";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A real RGB PNG with a gradient, so the browser has something to decode. */
export function gradientPng(width: number, height: number): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      raw[row + 1 + x * 3] = Math.round((x / width) * 255);
      raw[row + 2 + x * 3] = Math.round((y / height) * 255);
      raw[row + 3 + x * 3] = 180;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

export interface Seeded {
  experimentId: string;
  otherExperimentId: string;
  runs: { id: string; name: string; lr: number; acc: number }[];
  artifactRunId: string;
  modelName: string;
}

export const NOTE = "## Findings\n\nLearning rate **0.1** works best.\n\n<img src=x onerror=\"window.__xss=1\">\n\n- [x] tuned\n";

/** Experiments, five runs with params/metrics/histories/tags, artifacts of each previewed kind, and a registered model version. */
export async function seed(url: string, dir: string): Promise<Seeded> {
  const client = new MloopClient({ trackingUri: url });
  const experimentId = await client.createExperiment("vision-classifier", { tags: { team: "cv" } });
  const otherExperimentId = await client.createExperiment("tabular-churn");
  const specs = [
    { name: "baseline", lr: 0.1, model: "cnn", acc: 0.91 },
    { name: "small-lr", lr: 0.01, model: "cnn", acc: 0.86 },
    { name: "tiny-lr", lr: 0.001, model: "mlp", acc: 0.72 },
    { name: "wide", lr: 0.05, model: "mlp", acc: 0.88 },
    { name: "deep", lr: 0.02, model: "cnn", acc: 0.8 },
  ];
  const runs: Seeded["runs"] = [];
  const t0 = Date.now() - 3_600_000;
  for (const [i, s] of specs.entries()) {
    const run = await client.createRun({ experimentId, runName: s.name, startTime: t0 + i * 60_000, userId: i % 2 ? "ana" : "bo", tags: { "mlflow.source.git.commit": `${(i + 10).toString(16)}f3c9a1b2d4e5f60718293a4b5c6d7e8f9a0b1c`, "mlflow.source.name": "train.py", team: "cv" } });
    const id = run.info.run_id;
    const metrics = [];
    for (let step = 0; step < 200; step++) {
      metrics.push({ key: "loss", value: Math.exp(-step * s.lr * 0.3) + 0.05 * Math.sin(step / 3), step, timestamp: t0 + i * 60_000 + step * 1000 });
    }
    metrics.push({ key: "accuracy", value: s.acc, step: 199, timestamp: t0 + i * 60_000 + 200_000 });
    await client.logBatch(id, { metrics, params: { lr: String(s.lr), model: s.model, epochs: "20" } });
    await client.updateRun(id, { status: "FINISHED", endTime: t0 + i * 60_000 + 200_000 + i * 1000 });
    runs.push({ id, name: s.name, lr: s.lr, acc: s.acc });
  }
  const artifactRunId = runs[0]!.id;
  await client.setTag(artifactRunId, "mlflow.note.content", NOTE);

  const files = path.join(dir, "files");
  fs.mkdirSync(path.join(files, "model"), { recursive: true });
  fs.writeFileSync(path.join(files, "train.log"), "epoch 1 loss=0.91\nepoch 2 loss=0.55\nfinished\n");
  fs.writeFileSync(path.join(files, "metrics.json"), JSON.stringify({ accuracy: 0.91, classes: ["cat", "dog"] }));
  fs.writeFileSync(path.join(files, "config.yaml"), "optimizer: adam\nlearning_rate: 0.1\nlayers: [64, 32]\n");
  fs.writeFileSync(path.join(files, "predictions.csv"), 'id,label,score\n1,cat,0.97\n2,"dog, big",0.64\n3,cat,0.51\n');
  fs.writeFileSync(path.join(files, "confusion.png"), gradientPng(64, 48));
  fs.writeFileSync(
    path.join(files, "model", "MLmodel"),
    "artifact_path: model\nflavors:\n  onnx:\n    onnx_version: 1.17.0\n    data: model.onnx\n  python_function:\n    loader_module: mlflow.onnx\n    python_version: 3.11.9\nmodel_uuid: 5b0c2a9f1d8e4c7ab3e2f1d0c9b8a7e6\nutc_time_created: '2026-01-01 00:00:00.000000'\n",
  );
  await client.logArtifacts(artifactRunId, files);

  const modelName = "vision-classifier-model";
  await client.http.post("registered-models/create", { name: modelName, description: "Classifies **cats** and dogs." });
  const run = await client.getRun(artifactRunId);
  await client.http.post("model-versions/create", { name: modelName, source: `${run.info.artifact_uri}/model`, run_id: artifactRunId });
  await client.http.post("registered-models/alias", { name: modelName, alias: "champion", version: "1" });
  // An MLflow 3 logged model, registered as version 2.
  const { model } = await client.http.post<{ model: { info: { model_id: string } } }>("logged-models", { experiment_id: experimentId, name: "classifier", source_run_id: artifactRunId });
  await client.http.post("model-versions/create", { name: modelName, source: `models:/${model.info.model_id}`, run_id: artifactRunId, model_id: model.info.model_id });
  return { experimentId, otherExperimentId, runs, artifactRunId, modelName };
}
