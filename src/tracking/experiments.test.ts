import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";

describe("experiments API", () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(async () => t.close());

  it("has the Default experiment with id 0 from the start", async () => {
    const r = await t.call("GET", "experiments/get?experiment_id=0");
    expect(r.status).toBe(200);
    expect(r.body.experiment).toMatchObject({ experiment_id: "0", name: "Default", lifecycle_stage: "active", artifact_location: "mlflow-artifacts:/0" });
  });

  it("creates, renames, tags, deletes and restores an experiment", async () => {
    const c = await t.call("POST", "experiments/create", { name: "exp", tags: [{ key: "team", value: "a" }] });
    expect(c.status).toBe(200);
    const id = c.body.experiment_id as string;
    expect((await t.call("POST", "experiments/create", { name: "exp" })).body.error_code).toBe("RESOURCE_ALREADY_EXISTS");
    expect((await t.call("POST", "experiments/update", { experiment_id: id, new_name: "exp2" })).status).toBe(200);
    expect((await t.call("GET", "experiments/get-by-name?experiment_name=exp2")).body.experiment.experiment_id).toBe(id);
    await t.call("POST", "experiments/set-experiment-tag", { experiment_id: id, key: "k", value: "v" });
    const got = await t.call("GET", `experiments/get?experiment_id=${id}`);
    expect(got.body.experiment.tags).toEqual([{ key: "k", value: "v" }, { key: "team", value: "a" }]);
    await t.call("POST", "experiments/delete", { experiment_id: id });
    expect((await t.call("GET", `experiments/get?experiment_id=${id}`)).body.experiment.lifecycle_stage).toBe("deleted");
    const active = await t.call("GET", "experiments/search?max_results=100");
    expect(active.body.experiments.map((e: any) => e.experiment_id)).toEqual(["0"]);
    await t.call("POST", "experiments/restore", { experiment_id: id });
    expect((await t.call("GET", `experiments/get?experiment_id=${id}`)).body.experiment.lifecycle_stage).toBe("active");
  });

  it("makes a relative artifact_location absolute against the server's working directory", async () => {
    const c = await t.call("POST", "experiments/create", { name: "rel", artifact_location: "my_location" });
    const got = await t.call("GET", `experiments/get?experiment_id=${c.body.experiment_id}`);
    expect(got.body.experiment.artifact_location).toBe(path.join(process.cwd(), "my_location"));
    const s3 = await t.call("POST", "experiments/create", { name: "s3", artifact_location: "s3://bucket/x" });
    expect((await t.call("GET", `experiments/get?experiment_id=${s3.body.experiment_id}`)).body.experiment.artifact_location).toBe("s3://bucket/x");
  });

  it("answers unknown experiments with RESOURCE_DOES_NOT_EXIST and 404", async () => {
    const r = await t.call("GET", "experiments/get?experiment_id=999");
    expect(r.status).toBe(404);
    expect(r.body.error_code).toBe("RESOURCE_DOES_NOT_EXIST");
    const n = await t.call("GET", "experiments/get-by-name?experiment_name=nope");
    expect(n.status).toBe(404);
  });

  it("refuses a missing name and a form-encoded write", async () => {
    expect((await t.call("POST", "experiments/create", {})).body.error_code).toBe("INVALID_PARAMETER_VALUE");
    const form = await t.app.inject({ method: "POST", url: "/api/2.0/mlflow/experiments/create", payload: "name=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(form.statusCode).toBe(400);
    expect(JSON.parse(form.body).error_code).toBe("BAD_REQUEST");
    const list = await t.call("GET", "experiments/search?max_results=100");
    expect(list.body.experiments).toHaveLength(1);
  });

  it("pages through experiments", async () => {
    for (let i = 0; i < 5; i++) await t.call("POST", "experiments/create", { name: `e${i}` });
    const p1 = await t.call("GET", "experiments/search?max_results=4");
    expect(p1.body.experiments).toHaveLength(4);
    const p2 = await t.call("GET", `experiments/search?max_results=4&page_token=${encodeURIComponent(p1.body.next_page_token)}`);
    expect(p2.body.experiments).toHaveLength(2);
    expect(p2.body.next_page_token).toBeUndefined();
  });
});

describe("server info", () => {
  it("advertises the proxy's multipart capabilities the way MLflow 3 clients read them", async () => {
    const t = await makeTestApp();
    try {
      const r = await t.call("GET", "/api/3.0/mlflow/server-info");
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ store_type: "SqlStore", multipart_uploads_enabled: true, multipart_downloads_enabled: true });
    } finally {
      await t.close();
    }
  });
});
