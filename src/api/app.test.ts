import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";
import { MLFLOW_COMPAT_VERSION, VERSION } from "../version.js";

describe("server identity", () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(async () => t.close());

  it("answers /version with the MLflow version it is compatible with, and its own in a header", async () => {
    const res = await t.app.inject({ method: "GET", url: "/version" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(MLFLOW_COMPAT_VERSION);
    expect(res.headers["x-mloop-version"]).toBe(VERSION);
    const health = await t.app.inject({ method: "GET", url: "/health" });
    expect(health.body).toBe("OK");
    expect(health.headers["x-mloop-version"]).toBe(VERSION);
  });

  it("echoes a JSON number written as a float the way MLflow (Python) prints it", async () => {
    const res = await t.app.inject({ method: "POST", url: "/api/2.0/mlflow/experiments/create", headers: { "content-type": "application/json" }, payload: '{"name": "f", "artifact_location": 9.0}' });
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).message).toContain("Invalid value 9.0 for parameter 'artifact_location' supplied:  Hint: Value was of type 'float'");
    const int = await t.app.inject({ method: "POST", url: "/api/2.0/mlflow/experiments/create", headers: { "content-type": "application/json" }, payload: '{"name": "f", "artifact_location": 9}' });
    expect(JSON.parse(int.body).message).toContain("Invalid value 9 for parameter 'artifact_location' supplied:  Hint: Value was of type 'int'");
    // Prototype poisoning is still refused by Fastify's parser underneath.
    const poisoned = await t.app.inject({ method: "POST", url: "/api/2.0/mlflow/experiments/create", headers: { "content-type": "application/json" }, payload: '{"name": "p", "__proto__": {"x": 1}}' });
    expect(poisoned.statusCode).toBe(400);
    const big = await t.app.inject({ method: "POST", url: "/api/2.0/mlflow/experiments/create", headers: { "content-type": "application/json" }, payload: '{"name": 1e20}' });
    expect(JSON.parse(big.body).message).toContain("Invalid value 1e+20 for parameter 'name' supplied:  Hint: Value was of type 'float'");
  });
});
