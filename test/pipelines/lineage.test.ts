/**
 * Stage runs and lineage: a pipeline whose train stage (Python with the real mlflow client)
 * registers a model version from its own run; `mloop lineage` walks back to the commit and the
 * md5 of every data file, each checked against the repository.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LocalPredictionSink } from "../../src/serving/index.js";
import { HAS_DVC, git, mloopIn, newPipelineRepo, readLockFile } from "./helpers.js";

const PYTHON = path.resolve(import.meta.dirname, "../../.venv/bin/python");
const HAS_MLFLOW = fs.existsSync(PYTHON);

const PIPELINE = `stages:
  prepare:
    cmd: mkdir -p features && cp data/raw.csv features/raw.csv && echo 3 > features/t.txt
    deps: [data/raw.csv]
    outs: [features]
  train:
    cmd: "\\"$PY\\" train.py"
    deps: [features, train.py]
    params: [train.lr]
    outs: [model.bin]
    metrics:
      - metrics.json:
          cache: false
`;

const TRAIN = `import json, os
import mlflow
from mlflow import MlflowClient
data = open("features/raw.csv").read()
open("model.bin", "w").write(data + "trained\\n")
json.dump({"acc": 0.91, "nested": {"loss": 0.2}}, open("metrics.json", "w"))
run_id = os.environ["MLFLOW_RUN_ID"]
with mlflow.start_run(run_id=run_id) as run:
    mlflow.log_metric("epochs", 3)
    mlflow.log_artifact("model.bin", "model")
    client = MlflowClient()
    client.create_registered_model("clf")
    mv = client.create_model_version("clf", f"{run.info.artifact_uri}/model", run_id=run_id)
    client.set_registered_model_alias("clf", "champion", mv.version)
`;

function md5(bytes: Buffer | string): string {
  return createHash("md5").update(bytes).digest("hex");
}

describe.skipIf(!HAS_DVC || !HAS_MLFLOW)("stage runs and lineage", () => {
  it("walks from a registered model version to the commit and the md5 of every data file that went in", async () => {
    const repo = await newPipelineRepo("lineage", "dvc", PIPELINE);
    fs.writeFileSync(path.join(repo.dir, "train.py"), TRAIN);
    await git(repo.dir, "add", "-A");
    await git(repo.dir, "commit", "-qm", "train.py");
    const commit = (await git(repo.dir, "rev-parse", "HEAD")).stdout.trim();
    repo.env.PY = PYTHON;

    const r = await mloopIn(repo, "repro", "--json", "--experiment-name", "pipe");
    expect(r.code, r.stderr).toBe(0);
    const outcome = JSON.parse(r.stdout) as { parent_run_id: string; stages: { name: string; action: string; run_id: string }[] };
    expect(outcome.stages.map((s) => [s.name, s.action])).toEqual([["prepare", "ran"], ["train", "ran"]]);

    const lin = await mloopIn(repo, "lineage", "models:/clf@champion", "--json");
    expect(lin.code, lin.stderr).toBe(0);
    const l = JSON.parse(lin.stdout) as {
      model: { name: string; version: string; runId: string };
      commit: string;
      dirty: boolean;
      runs: { runId: string; stage: string; parentRunId: string; status: string; params: Record<string, string>; metrics: Record<string, number>; command: string; inputs: { path: string; md5: string; producedBy?: string }[]; outputs: { path: string; md5: string }[] }[];
      data: { path: string; md5: string; producedBy?: string }[];
      servedAs: string[];
    };
    expect(l.model).toMatchObject({ name: "clf", version: "1" });
    expect(l.servedAs).toEqual(["models:/clf@champion"]);
    expect([l.commit, l.dirty]).toEqual([commit, false]);
    const [train, prepare] = l.runs;
    expect(train!.stage).toBe("train");
    expect(train!.runId).toBe(outcome.stages[1]!.run_id);
    expect(train!.parentRunId).toBe(outcome.parent_run_id);
    expect(train!.status).toBe("FINISHED");
    expect(train!.params).toEqual({ "train.lr": "0.01" });
    expect(train!.metrics).toMatchObject({ acc: 0.91, "nested.loss": 0.2, epochs: 3 });
    expect(train!.command).toBe('"$PY" train.py');
    expect(prepare!.stage).toBe("prepare");

    // every data version, checked against the repository at the commit and dvc.lock
    const lock = readLockFile(repo.dir) as { stages: Record<string, { outs: { path: string; md5: string }[] }> };
    const byPath = Object.fromEntries(l.data.map((d) => [d.path, d]));
    expect(Object.keys(byPath).sort()).toEqual(["data/raw.csv", "features", "train.py"]);
    for (const file of ["data/raw.csv", "train.py"]) {
      const atCommit = (await git(repo.dir, "show", `${commit}:${file}`)).stdout;
      expect(byPath[file]!.md5, file).toBe(md5(atCommit));
      expect(byPath[file]!.producedBy).toBeUndefined();
    }
    expect(byPath.features!.md5).toBe(lock.stages.prepare!.outs[0]!.md5);
    expect(byPath.features!.producedBy).toBe(prepare!.runId);
    expect(train!.outputs.find((o) => o.path === "model.bin")!.md5).toBe(md5(fs.readFileSync(path.join(repo.dir, "model.bin"))));

    const text = await mloopIn(repo, "lineage", "models:/clf/1");
    expect(text.stdout).toContain(`commit ${commit}`);
    expect(text.stdout).toContain("in   features  md5");
    expect(text.stdout).toContain("← stage prepare");

    // from a served prediction: its request id in the prediction log leads to the same chain
    const sink = new LocalPredictionSink(path.join(repo.dir, "mloop-predictions"));
    await sink.write({ requestId: "req-42", timestampMs: Date.now(), model: "clf", version: "1", role: "champion", status: 200, latencyMs: 1, inputs: '{"columns":["x"],"data":[[1]]}', predictions: "[0]" });
    await sink.close();
    const fromRequest = JSON.parse((await mloopIn(repo, "lineage", "request:req-42", "--json")).stdout) as typeof l & { prediction: { requestId: string; role: string } };
    expect(fromRequest.prediction).toMatchObject({ requestId: "req-42", role: "champion" });
    expect([fromRequest.commit, fromRequest.runs.map((x) => x.stage)]).toEqual([commit, ["train", "prepare"]]);
    expect((await mloopIn(repo, "lineage", "request:nope")).stderr).toMatch(/^mloop: no prediction with request id 'nope' in .*mloop-predictions\n$/);

    const bad = await mloopIn(repo, "lineage", "models:/nope/1");
    expect(bad.code).toBe(1);
    expect(bad.stderr.split("\n").filter(Boolean)).toHaveLength(1);
  });
});
