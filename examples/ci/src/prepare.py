"""Splits data/points.csv into train.csv and test.csv (params: prepare.test_share, prepare.seed)."""
import json
import os
import random
import sys


def params(section):
    # params.yaml is two levels deep and flat: read it without a YAML library
    out, current = {}, None
    for line in open("params.yaml"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            current = line.split(":")[0].strip()
        elif current == section:
            key, value = line.split(":", 1)
            out[key.strip()] = json.loads(value.strip())
    return out


def main():
    src, dest = sys.argv[1], sys.argv[2]
    p = params("prepare")
    header, *rows = open(src).read().splitlines()
    random.Random(p["seed"]).shuffle(rows)
    n_test = int(len(rows) * p["test_share"])
    os.makedirs(dest, exist_ok=True)
    for name, part in (("test.csv", rows[:n_test]), ("train.csv", rows[n_test:])):
        with open(os.path.join(dest, name), "w") as f:
            f.write("\n".join([header, *part]) + "\n")


if __name__ == "__main__":
    main()
