/**
 * python/mloop_evaluate.py's scoring against mlflow.models.evaluate itself (the real mlflow and
 * scikit-learn from .venv, one Python process): roc_auc and log_loss from a classifier's
 * predict_proba, the same values under the same names; none for a model without probabilities
 * (so a gate on them refuses it as missing); the multiclass case.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decideGate, parseDeploymentSpec } from "../../src/retraining/index.js";
import { PYTHON, REPO } from "./harness.js";

const SCRIPT = String.raw`
import json, sys, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, sys.argv[1])
import mlflow
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC
import mloop_evaluate as ev

out = sys.argv[2]
rng = np.random.default_rng(0)
x = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
y = ((x.a + 0.5 * x.b + rng.normal(scale=0.8, size=400)) > 0).astype(int).to_numpy()
mlflow.sklearn.save_model(LogisticRegression().fit(x, y), f"{out}/lr")
mlflow.sklearn.save_model(LinearSVC().fit(x, y), f"{out}/svc")
y3 = np.digitize(x.a + rng.normal(scale=0.5, size=400), [-0.5, 0.5])
mlflow.sklearn.save_model(LogisticRegression().fit(x, y3), f"{out}/lr3")
res = {
    "lr": ev.score(mlflow.pyfunc.load_model(f"{out}/lr"), x, y),
    "svc": ev.score(mlflow.pyfunc.load_model(f"{out}/svc"), x, y),
    "lr3": ev.score(mlflow.pyfunc.load_model(f"{out}/lr3"), x, y3),
}
mlflow.set_tracking_uri(f"file://{out}/mlruns")
with mlflow.start_run():
    r = mlflow.models.evaluate(f"{out}/lr", x.assign(y=y), targets="y", model_type="classifier", evaluators=["default"], evaluator_config={"default": {"log_model_explainability": False}})
res["mlflow"] = {k: r.metrics[k] for k in ("roc_auc", "log_loss", "accuracy_score", "f1_score")}
print(json.dumps(res))
`;

describe.skipIf(!fs.existsSync(PYTHON))("the evaluation's probability metrics", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-evaluate-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("scores roc_auc and log_loss from predict_proba as mlflow.models.evaluate does, and none without probabilities", () => {
    const r = spawnSync(PYTHON, ["-c", SCRIPT, path.join(REPO, "python"), dir], { encoding: "utf8", env: { ...process.env, MLFLOW_ALLOW_FILE_STORE: "true", GIT_PYTHON_REFRESH: "quiet" }, timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Record<string, Record<string, number>>;
    const { lr, svc, lr3, mlflow } = res as Record<string, Record<string, number>>;
    expect(lr!.roc_auc).toBeCloseTo(mlflow!.roc_auc!, 12);
    expect(lr!.log_loss).toBeCloseTo(mlflow!.log_loss!, 12);
    expect(lr!.accuracy).toBeCloseTo(mlflow!.accuracy_score!, 12);
    expect(lr!.f1).toBeCloseTo(mlflow!.f1_score!, 12);
    expect(lr!.roc_auc).toBeGreaterThan(0.5);
    // LinearSVC has no predict_proba: no probability metrics, the others as before.
    expect(Object.keys(svc!).sort()).toEqual(["accuracy", "f1", "latency_ms", "precision", "recall"]);
    // Three classes: one-vs-rest roc_auc, multiclass log_loss.
    expect(lr3!.roc_auc).toBeGreaterThan(0.5);
    expect(lr3!.roc_auc).toBeLessThanOrEqual(1);
    expect(lr3!.log_loss).toBeGreaterThan(0);

    // The gate on them: log_loss is lower-is-better by default; a model without probabilities is refused as missing.
    const spec = parseDeploymentSpec(
      "name: d\nmodel: {name: m}\nretraining: {project: ./p}\ndata: {path: ./d.csv}\nevaluation:\n  data: ./h.csv\n  gate:\n    primary_metric: roc_auc\n    margin: 0.01\n    guards: [{metric: log_loss, tolerance: 0.02}]\n",
      "deploy.yaml",
    );
    expect(spec.evaluation.gate.guards).toEqual([{ metric: "log_loss", tolerance: 0.02, direction: "lower" }]);
    const worse = { ...lr, roc_auc: lr!.roc_auc! - 0.05, log_loss: lr!.log_loss! + 0.1 };
    expect(decideGate(spec.evaluation.gate, lr!, worse)).toMatchObject({ passed: true });
    const v = decideGate(spec.evaluation.gate, svc!, lr!);
    expect(v.passed).toBe(false);
    expect(v.reason).toBe("gate refused: roc_auc missing for the candidate; log_loss missing for the candidate");
  }, 320_000);
});
