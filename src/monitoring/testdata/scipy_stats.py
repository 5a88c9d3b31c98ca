"""Reads cases as JSON on stdin, prints scipy's answers as JSON (used by stats.test.ts)."""
import json
import sys

import numpy as np
from scipy import stats
from scipy.spatial import distance

out = []
for case in json.load(sys.stdin):
    kind = case["kind"]
    if kind == "ks":
        r = stats.ks_2samp(np.array(case["a"], dtype=float), np.array(case["b"], dtype=float))
        out.append({"statistic": float(r.statistic), "p": float(r.pvalue)})
    elif kind == "kstwo":
        out.append({"p": float(stats.kstwo.sf(case["x"], case["n"]))})
    elif kind == "chisquare":
        r = stats.chisquare(case["obs"], case["exp"])
        out.append({"statistic": float(r.statistic), "p": float(r.pvalue)})
    elif kind == "chi2_contingency":
        r = stats.chi2_contingency(np.array([case["ref"], case["cur"]], dtype=float))
        out.append({"statistic": float(r.statistic), "p": float(r.pvalue), "dof": int(r.dof)})
    elif kind == "wasserstein":
        a = np.array(case["a"], dtype=float)
        out.append({"d": float(stats.wasserstein_distance(a, np.array(case["b"], dtype=float))), "std": float(np.std(a))})
    elif kind == "jensenshannon":
        out.append({"d": float(distance.jensenshannon(case["p"], case["q"]))})
    elif kind == "entropy":
        out.append({"d": float(stats.entropy(case["p"], case["q"]))})
    elif kind == "norm_sf":
        out.append({"p": float(2 * (1 - stats.norm.cdf(abs(case["z"]))))})
    elif kind == "histogram":
        a = np.array(case["a"], dtype=float)
        edges = np.histogram_bin_edges(a, bins="sturges")
        out.append({"edges": edges.tolist(), "counts": np.histogram(a, edges)[0].tolist()})
json.dump(out, sys.stdout)
