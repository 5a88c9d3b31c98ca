/**
 * The CI loop: two commits where the second makes the metric worse. `mloop gate` fails naming
 * the metric and both values; `mloop report` holds both values and its plot images exist;
 * metrics/params diff read the base from git and cached outputs from the DVC cache.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { HAS_DVC, dvc, git, mloopIn, newPipelineRepo } from "./helpers.js";

const PIPELINE = `stages:
  train:
    cmd: >-
      printf '{"acc": %s, "loss": %s}' "\${train.acc}" "\${train.loss}" > metrics.json &&
      printf 'step,loss\\n1,%s\\n2,%s\\n' "\${train.loss}" "\${train.loss}" > curve.csv &&
      printf 'acc = %s\\n' "\${train.acc}" > summary.toml
    deps: [data/raw.csv]
    params: [train]
    metrics:
      - metrics.json:
          cache: false
      - summary.toml
    plots:
      - curve.csv:
          x: step
          y: loss
`;

describe.skipIf(!HAS_DVC)("CI: report and gate across two commits", () => {
  it("fails the gate when the second commit makes the metric worse, and reports both values with plots", async () => {
    const repo = await newPipelineRepo("ci", "dvc", PIPELINE);
    const setParams = (acc: number, loss: number) => fs.writeFileSync(path.join(repo.dir, "params.yaml"), `train:\n  acc: ${acc}\n  loss: ${loss}\n  epochs: 3\n`);
    setParams(0.92, 0.3);
    expect((await mloopIn(repo, "repro")).code).toBe(0);
    await git(repo.dir, "add", "-A");
    await git(repo.dir, "commit", "-qm", "good model");
    await git(repo.dir, "branch", "base");
    setParams(0.85, 0.4);
    expect((await mloopIn(repo, "repro")).code).toBe(0);
    await git(repo.dir, "add", "-A");
    await git(repo.dir, "commit", "-qm", "worse model");
    expect((await dvc(repo.dir, ["status"])).stdout.trim()).toBe("Data and pipelines are up to date.");

    const gate = await mloopIn(repo, "gate", "--metric", "metrics.json:acc", "--min", "0.8", "--not-worse-than", "base", "--tolerance", "0.01");
    expect(gate.code).toBe(1);
    expect(gate.stderr).toBe("mloop: metrics.json:acc got worse: 0.85 in the workspace against 0.92 at base (higher is better, tolerance 0.01)\n");
    const below = await mloopIn(repo, "gate", "--metric", "summary.toml:acc", "--min", "0.9");
    expect(below.stderr).toBe("mloop: summary.toml:acc is 0.85, below the minimum 0.9\n");
    const ambiguous = await mloopIn(repo, "gate", "--metric", "acc");
    expect(ambiguous.stderr).toContain("metric 'acc' is in several files (metrics.json, summary.toml)");
    const passes = await mloopIn(repo, "gate", "--metric", "metrics.json:loss", "--lower-is-better", "--not-worse-than", "HEAD");
    expect([passes.code, passes.stdout.trim()]).toEqual([0, "metrics.json:loss = 0.4 (HEAD: 0.4): the gate passes"]);

    const diff = await mloopIn(repo, "metrics", "diff", "base", "--json");
    expect(JSON.parse(diff.stdout)).toEqual({
      "metrics.json": { acc: { old: 0.92, new: 0.85, diff: -0.07 }, loss: { old: 0.3, new: 0.4, diff: 0.1 } },
      "summary.toml": { acc: { old: 0.92, new: 0.85, diff: -0.07 } },
    });
    const pdiff = await mloopIn(repo, "params", "diff", "base");
    expect(pdiff.stdout).toMatch(/params\.yaml\s+train\.acc\s+0\.92\s+0\.85/);
    expect(pdiff.stdout).not.toContain("epochs");
    expect(JSON.parse((await mloopIn(repo, "metrics", "show", "--json")).stdout)["metrics.json"]).toEqual({ acc: 0.85, loss: 0.4 });

    const report = await mloopIn(repo, "report", "--base", "base", "-o", "out");
    expect(report.code, report.stderr).toBe(0);
    const md = fs.readFileSync(path.join(repo.dir, "out", "report.md"), "utf8");
    expect(md).toBe(report.stdout);
    expect(md).toMatch(/\| metrics\.json \| acc \| 0\.92 \| 0\.85 \| -0\.07 \|/);
    expect(md).toContain("![curve.csv](plots/curve.csv.svg)");
    const svg = fs.readFileSync(path.join(repo.dir, "out", "plots", "curve.csv.svg"), "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("base");
    expect(svg).toContain("workspace");
    const html = fs.readFileSync(path.join(repo.dir, "out", "report.html"), "utf8");
    expect(html).toContain("<svg");
    expect(html).toContain("0.92");

    const plots = await mloopIn(repo, "plots", "diff", "base", "HEAD", "-o", "p", "--json");
    expect(JSON.parse(plots.stdout)).toEqual([{ id: "curve.csv", svg: path.join(repo.dir, "p", "curve.csv.svg"), revisions: ["base", "HEAD"] }]);

    expect((await mloopIn(repo, "metrics", "diff", "nope")).stderr).toMatch(/^mloop: unknown revision 'nope'/);
  });
});
