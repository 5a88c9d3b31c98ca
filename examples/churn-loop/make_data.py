"""Generates the churn example's data: customers of a subscription service.

    python make_data.py OUT_DIR [--seed 7]

Writes train.csv (the world the first model learns), holdout.csv (held-out
rows of the world after the shift, the evaluation gate's data),
traffic_before.csv and traffic_after.csv (what clients send before and after
the shift, with the true label in `churned`). After the shift, prices went
up and price-sensitive customers leave: monthly_charges moves, and matters.
"""
import argparse
import os

import numpy as np
import pandas as pd

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract_months"]


def world(rng, n, shifted):
    # after the shift, long-standing customers have left: tenure is shorter
    tenure = rng.integers(1, 30 if shifted else 72, n).astype(float)
    charges = rng.normal(70.0, 15.0, n) + (35.0 if shifted else 0.0)
    calls = rng.poisson(1.5, n).astype(float)
    contract = rng.choice([1.0, 12.0, 24.0], n)
    if shifted:
        logit = 0.15 * (charges - 105.0) + 0.4 * calls - 0.02 * tenure - 0.02 * contract
    else:
        logit = 1.1 * calls - 0.06 * tenure - 0.05 * contract + 0.3
    churned = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"tenure_months": tenure, "monthly_charges": charges.round(2), "support_calls": calls, "contract_months": contract, "churned": churned})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    world(rng, 2000, False).to_csv(os.path.join(a.out, "train.csv"), index=False)
    world(rng, 600, True).to_csv(os.path.join(a.out, "holdout.csv"), index=False)
    world(rng, 400, False).to_csv(os.path.join(a.out, "traffic_before.csv"), index=False)
    world(rng, 1200, True).to_csv(os.path.join(a.out, "traffic_after.csv"), index=False)


if __name__ == "__main__":
    main()
