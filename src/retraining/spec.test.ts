import { describe, expect, it } from "vitest";
import { parseDeploymentSpec, SpecError } from "./index.js";

const GOOD = `name: churn
model:
  name: churn
  alias: champion
monitor:
  window_rows: 100
  drift_share: 0.3
  accuracy_floor: 0.7
triggers: [drift, accuracy, manual, {schedule: 60}]
retraining:
  project: ./train
  parameters:
    data: \${data}
    n_estimators: 50
data:
  path: ./fresh.csv
evaluation:
  data: ./holdout.csv
  label_column: churned
  gate:
    primary_metric: accuracy
    margin: 0.01
    guards:
      - {metric: latency_ms, tolerance: 5, direction: lower}
rollout:
  share: 0.2
  duration_s: 10
`;

function errorOf(text: string): string {
  try {
    parseDeploymentSpec(text, "deploy.yaml");
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return (err as Error).message;
  }
  throw new Error("no error");
}

describe("deployment spec", () => {
  it("reads every section with defaults filled in", () => {
    const s = parseDeploymentSpec(GOOD, "deploy.yaml", "/x");
    expect(s.model).toEqual({ name: "churn", alias: "champion" });
    expect(s.monitor).toEqual({ windowRows: 100, driftShare: 0.3, accuracyFloor: 0.7, reference: undefined, cooldownSeconds: 300 });
    expect(s.triggers).toEqual({ drift: true, accuracy: true, manual: true, scheduleMinutes: 60 });
    expect(s.retraining.parameters).toEqual({ data: "${data}", n_estimators: "50" });
    expect(s.retraining.experiment).toBe("deploy-churn");
    expect(s.evaluation.gate).toEqual({ primaryMetric: "accuracy", direction: "higher", margin: 0.01, guards: [{ metric: "latency_ms", tolerance: 5, direction: "lower" }] });
    expect(s.rollout).toMatchObject({ mode: "canary", share: 0.2, durationSeconds: 10, previousAlias: "previous", challengerAlias: "challenger" });
    expect(s.baseDir).toBe("/x");
    expect(s.rollout.maxP95LatencyIncreaseMs).toBeUndefined();
    expect(parseDeploymentSpec(GOOD.replace("  duration_s: 10", "  duration_s: 10\n  max_p95_latency_increase_ms: 25"), "deploy.yaml").rollout.maxP95LatencyIncreaseMs).toBe(25);
  });

  it.each([
    ["an unknown field, with its line", GOOD.replace("  alias: champion", "  alias: champion\n  aliass: x"), /^deploy\.yaml:5: model\.aliass: unknown field/],
    ["a missing required section", GOOD.replace(/evaluation:[\s\S]*?rollout:/, "rollout:"), /^deploy\.yaml:\d+: evaluation: is required$/],
    ["a share out of range", GOOD.replace("share: 0.2", "share: 2"), /^deploy\.yaml:26: rollout\.share: must be between 0 and 1, got 2$/],
    ["a wrong type", GOOD.replace("window_rows: 100", "window_rows: many"), /^deploy\.yaml:6: monitor\.window_rows: must be a number$/],
    ["an unknown trigger", GOOD.replace("[drift, accuracy", "[drfit, accuracy"), /^deploy\.yaml:9: triggers\[0\]: unknown trigger 'drfit'/],
    ["an unknown metric", GOOD.replace("primary_metric: accuracy", "primary_metric: acc"), /^deploy\.yaml:21: evaluation\.gate\.primary_metric: unknown metric 'acc'/],
    ["an unknown reference", GOOD.replace("${data}", "${dta}"), /retraining\.parameters: unknown reference \$\{dta\}/],
    ["bad YAML", GOOD.replace("  alias: champion", "  alias: [champion"), /^deploy\.yaml:\d+: /],
    ["no data source", GOOD.replace("  path: ./fresh.csv", "  {}").replace("data:\n  {}", "data: {}"), /data: needs path/],
    ["a negative latency tolerance", GOOD.replace("  duration_s: 10", "  duration_s: 10\n  max_p95_latency_increase_ms: -1"), /^deploy\.yaml:28: rollout\.max_p95_latency_increase_ms: must be between 0 and 3600000, got -1$/],
    ["a guard without its metric", GOOD.replace("{metric: latency_ms, tolerance: 5, direction: lower}", "{tolerance: 5}"), /^deploy\.yaml:24: evaluation\.gate\.guards\.0\.metric: is required$/],
  ])("names the line and field of %s", (_label, text, message) => {
    expect(errorOf(text)).toMatch(message);
  });
});
