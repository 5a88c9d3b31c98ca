import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";

describe("logged models API (MLflow 3)", () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(async () => t.close());

  async function createRun(): Promise<string> {
    const r = await t.call("POST", "runs/create", { experiment_id: "0", start_time: Date.now() });
    expect(r.status).toBe(200);
    return r.body.run.info.run_id as string;
  }

  it("creates a PENDING model under the experiment's models folder, then finalizes it", async () => {
    const runId = await createRun();
    const c = await t.call("POST", "logged-models", {
      experiment_id: "0",
      name: "model",
      model_type: "Classifier",
      source_run_id: runId,
      params: [{ key: "alpha", value: "0.5" }],
      tags: [{ key: "mlflow.source.type", value: "LOCAL" }],
    });
    expect(c.status).toBe(200);
    const info = c.body.model.info;
    expect(info.model_id).toMatch(/^m-[0-9a-f]{32}$/);
    expect(info).toMatchObject({
      experiment_id: "0",
      name: "model",
      model_type: "Classifier",
      source_run_id: runId,
      status: "LOGGED_MODEL_PENDING",
      artifact_uri: `mlflow-artifacts:/0/models/${info.model_id}/artifacts`,
      tags: [{ key: "mlflow.source.type", value: "LOCAL" }],
    });
    expect(c.body.model.data.params).toEqual([{ key: "alpha", value: "0.5" }]);

    const f = await t.call("PATCH", `logged-models/${info.model_id}`, { model_id: info.model_id, status: "LOGGED_MODEL_READY" });
    expect(f.status).toBe(200);
    expect(f.body.model.info.status).toBe("LOGGED_MODEL_READY");
    const g = await t.call("GET", `logged-models/${info.model_id}`);
    expect(g.body.model.info.status).toBe("LOGGED_MODEL_READY");
    // the ajax prefix serves the same API
    expect((await t.call("GET", `/ajax-api/2.0/mlflow/logged-models/${info.model_id}`)).status).toBe(200);
  });

  it("generates a name when none is given and refuses names with path characters", async () => {
    const c = await t.call("POST", "logged-models", { experiment_id: "0" });
    expect(c.body.model.info.name).toMatch(/^[a-z]+-[a-z]+-\d+$/);
    const bad = await t.call("POST", "logged-models", { experiment_id: "0", name: "../x" });
    expect(bad.status).toBe(400);
    expect(bad.body.error_code).toBe("INVALID_PARAMETER_VALUE");
  });

  it("answers unknown experiments and models with RESOURCE_DOES_NOT_EXIST", async () => {
    expect((await t.call("POST", "logged-models", { experiment_id: "999" })).body.error_code).toBe("RESOURCE_DOES_NOT_EXIST");
    const g = await t.call("GET", "logged-models/m-00000000000000000000000000000000");
    expect(g.status).toBe(404);
    expect(g.body.error_code).toBe("RESOURCE_DOES_NOT_EXIST");
    expect((await t.call("POST", "logged-models", {})).body.error_code).toBe("INVALID_PARAMETER_VALUE");
  });

  it("sets and deletes tags, logs params, and refuses a bad finalize status", async () => {
    const id = (await t.call("POST", "logged-models", { experiment_id: "0", name: "m" })).body.model.info.model_id;
    expect((await t.call("PATCH", `logged-models/${id}/tags`, { tags: [{ key: "a", value: "1" }, { key: "b", value: "2" }] })).status).toBe(200);
    expect((await t.call("DELETE", `logged-models/${id}/tags/a`)).status).toBe(200);
    expect((await t.call("DELETE", `logged-models/${id}/tags/a`)).body.error_code).toBe("RESOURCE_DOES_NOT_EXIST");
    expect((await t.call("POST", `logged-models/${id}/params`, { model_id: id, params: [{ key: "p", value: "v" }] })).status).toBe(200);
    const g = await t.call("GET", `logged-models/${id}`);
    expect(g.body.model.info.tags).toEqual([{ key: "b", value: "2" }]);
    expect(g.body.model.data.params).toEqual([{ key: "p", value: "v" }]);
    expect((await t.call("PATCH", `logged-models/${id}`, { status: "LOGGED_MODEL_PENDING" })).body.error_code).toBe("INVALID_PARAMETER_VALUE");
    expect((await t.call("PATCH", `logged-models/${id}`, { status: "BOGUS" })).body.error_code).toBe("INVALID_PARAMETER_VALUE");
    // proto number form
    expect((await t.call("PATCH", `logged-models/${id}`, { status: 3 })).body.model.info.status).toBe("LOGGED_MODEL_UPLOAD_FAILED");
  });

  it("searches by experiment with filters, order and pages, and hides deleted models", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const c = await t.call("POST", "logged-models", { experiment_id: "0", name: `model${i}`, tags: [{ key: "parity", value: i % 2 ? "odd" : "even" }] });
      ids.push(c.body.model.info.model_id);
    }
    const even = await t.call("POST", "logged-models/search", { experiment_ids: ["0"], filter: "tags.parity = 'even'", order_by: [{ field_name: "name", ascending: true }] });
    expect(even.body.models.map((m: any) => m.info.name)).toEqual(["model0", "model2", "model4"]);
    const byName = await t.call("POST", "logged-models/search", { experiment_ids: ["0"], filter: "name LIKE 'model%' AND name != 'model1'" });
    expect(byName.body.models).toHaveLength(4);
    const p1 = await t.call("POST", "logged-models/search", { experiment_ids: ["0"], max_results: 2, order_by: [{ field_name: "name", ascending: false }] });
    expect(p1.body.models.map((m: any) => m.info.name)).toEqual(["model4", "model3"]);
    const p2 = await t.call("POST", "logged-models/search", { experiment_ids: ["0"], max_results: 2, order_by: [{ field_name: "name", ascending: false }], page_token: p1.body.next_page_token });
    expect(p2.body.models.map((m: any) => m.info.name)).toEqual(["model2", "model1"]);

    expect((await t.call("DELETE", `logged-models/${ids[0]}`)).status).toBe(200);
    expect((await t.call("GET", `logged-models/${ids[0]}`)).status).toBe(404);
    expect((await t.call("GET", `logged-models/${ids[0]}?allow_deleted=true`)).status).toBe(200);
    const all = await t.call("POST", "logged-models/search", { experiment_ids: ["0"] });
    expect(all.body.models).toHaveLength(4);
    expect((await t.call("POST", "logged-models/search", { experiment_ids: ["0"], filter: "bogus.x = 1" })).body.error_code).toBe("INVALID_PARAMETER_VALUE");
    expect((await t.call("POST", "logged-models/search", {})).body.error_code).toBe("INVALID_PARAMETER_VALUE");
  });
});
