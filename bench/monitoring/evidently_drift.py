"""Evidently's DataDriftPreset on reference/current CSV files (bench-only; runs in .venv-evidently).

    python evidently_drift.py REFERENCE.csv CURRENT.csv --numerical a,b --categorical c   # one pair, prints JSON
    python evidently_drift.py --batch < scenarios.json                                       # many pairs (tests)

Prints, per pair: the seconds the Report took (reading the CSVs excluded and
reported apart), the drifted-column count and share, dataset drift, and per
column the method and score Evidently chose.
"""
import argparse
import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")

import pandas as pd  # noqa: E402
from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

P_VALUE_METHODS = {"K-S p_value": "ks", "chi-square p_value": "chisquare", "Z-test p_value": "z"}
DISTANCE_METHODS = {"Wasserstein distance (normed)": "wasserstein", "Jensen-Shannon distance": "jensenshannon", "PSI": "psi", "Kullback-Leibler divergence": "kl"}


def run(reference, current, numerical, categorical):
    t0 = time.perf_counter()
    dtypes = {c: "string" for c in categorical}
    ref = pd.read_csv(reference, dtype=dtypes, keep_default_na=True)
    cur = pd.read_csv(current, dtype=dtypes, keep_default_na=True)
    for c in categorical:
        ref[c] = ref[c].astype("category")
        cur[c] = cur[c].astype("category")
    t1 = time.perf_counter()
    c1 = time.process_time()
    dd = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    snap = Report([DataDriftPreset()]).run(Dataset.from_pandas(cur, data_definition=dd), Dataset.from_pandas(ref, data_definition=dd))
    t2 = time.perf_counter()
    c2 = time.process_time()
    out = {"read_seconds": t1 - t0, "report_seconds": t2 - t1, "report_cpu_seconds": c2 - c1, "columns": {}}
    for m in snap.dict()["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith("DriftedColumnsCount"):
            out["count"] = m["value"]["count"]
            out["share"] = m["value"]["share"]
            out["dataset_drift"] = m["value"]["share"] >= cfg["drift_share"]
        elif cfg["type"].endswith("ValueDrift"):
            name = cfg["method"]
            score = float(m["value"])
            threshold = cfg["threshold"]
            if name in P_VALUE_METHODS:
                method = P_VALUE_METHODS[name]
                drifted = score <= threshold if method == "ks" else score < threshold
            else:
                method = DISTANCE_METHODS.get(name, name)
                drifted = score >= threshold
            out["columns"][cfg["column"]] = {"method": method, "score": score, "drift_detected": drifted}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reference", nargs="?")
    ap.add_argument("current", nargs="?")
    ap.add_argument("--numerical", default="")
    ap.add_argument("--categorical", default="")
    ap.add_argument("--batch", action="store_true")
    a = ap.parse_args()
    split = lambda s: [c for c in s.split(",") if c]  # noqa: E731
    if a.batch:
        cases = json.load(sys.stdin)
        json.dump([run(c["reference"], c["current"], c["numerical"], c["categorical"]) for c in cases], sys.stdout)
    else:
        json.dump(run(a.reference, a.current, split(a.numerical), split(a.categorical)), sys.stdout)


if __name__ == "__main__":
    main()
