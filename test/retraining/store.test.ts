import { expect, it } from "vitest";
import { DeploymentStore } from "../../src/retraining/index.js";
import { describeStoreContract, expectMlflowError } from "../helpers/contract.js";

describeStoreContract("deployments", (ctx) => {
  it("applies a deployment in serving with a first event", async () => {
    const store = new DeploymentStore(ctx.db);
    const d = await store.apply("churn", { a: 1 }, 1000);
    expect(d).toMatchObject({ name: "churn", state: "serving", revision: 1 });
    const again = await store.apply("churn", { a: 2 }, 2000);
    expect(again).toMatchObject({ state: "serving", revision: 1, spec: { a: 2 } });
    expect(await store.events("churn")).toEqual([{ deployment: "churn", seq: 1, timestampMs: 1000, fromState: null, toState: "serving", reason: "deployment applied", data: {} }]);
  });

  it("records every transition with its reason and refuses a stale or impossible one", async () => {
    const store = new DeploymentStore(ctx.db);
    await store.apply("churn", {});
    const a = await store.transition("churn", 1, "drift_detected", "drift_share 0.6 >= 0.5", { context: { window: 3 }, data: { window: 3 } });
    expect(a).toMatchObject({ state: "drift_detected", revision: 2, context: { window: 3 } });
    await expectMlflowError(store.transition("churn", 1, "drift_detected", "again"), "INVALID_STATE", /moved on/);
    await expectMlflowError(store.transition("churn", 2, "promoted", "skip"), "INVALID_STATE", /cannot go from drift_detected to promoted/);
    await expectMlflowError(store.transition("nope", 1, "drift_detected", "x"), "RESOURCE_DOES_NOT_EXIST");
    const b = await store.transition("churn", 2, "retraining", "run r1 started", { context: { ...a.context, runId: "r1" } });
    expect((await store.get("churn")).context).toEqual({ window: 3, runId: "r1" });
    const c = await store.updateContext("churn", b.revision, { window: 3, runId: "r1", spawned: true });
    expect(c.revision).toBe(4);
    const events = await store.events("churn");
    expect(events.map((e) => [e.seq, e.fromState, e.toState, e.reason])).toEqual([
      [1, null, "serving", "deployment applied"],
      [2, "serving", "drift_detected", "drift_share 0.6 >= 0.5"],
      [3, "drift_detected", "retraining", "run r1 started"],
    ]);
    expect(events[1]!.data).toEqual({ window: 3 });
    expect((await store.events("churn", { afterSeq: 2 })).map((e) => e.seq)).toEqual([3]);
  });

  it("lets two racing controllers move a state only once", async () => {
    const store = new DeploymentStore(ctx.db);
    await store.apply("churn", {});
    const results = await Promise.allSettled([store.transition("churn", 1, "drift_detected", "a"), store.transition("churn", 1, "drift_detected", "b")]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(await store.events("churn")).toHaveLength(2);
  });

  it("gives a lease to one holder until it expires or is released", async () => {
    const store = new DeploymentStore(ctx.db);
    expect(await store.acquireLease("churn", "retraining", "a", 1000, 10_000)).toBe(true);
    expect(await store.acquireLease("churn", "retraining", "b", 1000, 10_500)).toBe(false);
    expect(await store.acquireLease("churn", "retraining", "a", 1000, 10_500)).toBe(true);
    expect(await store.leaseHolder("churn", "retraining", 11_000)).toBe("a");
    expect(await store.acquireLease("churn", "retraining", "b", 1000, 11_600)).toBe(true);
    await store.releaseLease("churn", "retraining", "a");
    expect(await store.leaseHolder("churn", "retraining", 11_700)).toBe("b");
    await store.releaseLease("churn", "retraining", "b");
    expect(await store.leaseHolder("churn", "retraining", 11_700)).toBeUndefined();
    const race = await Promise.all([store.acquireLease("x", "retraining", "p", 1000), store.acquireLease("x", "retraining", "q", 1000)]);
    expect(race.filter(Boolean)).toHaveLength(1);
  });
});
