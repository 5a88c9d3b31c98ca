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
});
