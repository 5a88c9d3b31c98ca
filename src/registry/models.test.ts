import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";

describe("model registry API", () => {
  let t: TestApp;
  let runId: string;
  let artifactUri: string;

  beforeEach(async () => {
    t = await makeTestApp();
    const r = await t.call("POST", "runs/create", { experiment_id: "0", start_time: Date.now() });
    runId = r.body.run.info.run_id;
    artifactUri = r.body.run.info.artifact_uri;
  });
  afterEach(async () => t.close());

  const create = (name: string, extra: Record<string, unknown> = {}) => t.call("POST", "registered-models/create", { name, ...extra });
  const version = (name: string, source = `runs:/${runId}/model`, extra: Record<string, unknown> = {}) =>
    t.call("POST", "model-versions/create", { name, source, run_id: runId, ...extra });

  it("creates, gets, renames, updates and deletes a registered model", async () => {
    const c = await create("fraud", { description: "d", tags: [{ key: "team", value: "risk" }] });
    expect(c.status).toBe(200);
    expect(c.body.registered_model).toMatchObject({ name: "fraud", description: "d", tags: [{ key: "team", value: "risk" }], latest_versions: [], aliases: [] });
    const dup = await create("fraud");
    expect(dup.status).toBe(400);
    expect(dup.body.error_code).toBe("RESOURCE_ALREADY_EXISTS");

    await version("fraud");
    await t.call("POST", "registered-models/alias", { name: "fraud", alias: "champion", version: "1" });
    const ren = await t.call("POST", "registered-models/rename", { name: "fraud", new_name: "fraud2" });
    expect(ren.body.registered_model.name).toBe("fraud2");
    // versions, tags and aliases follow the rename
    const got = await t.call("GET", "registered-models/get?name=fraud2");
    expect(got.body.registered_model.latest_versions[0]).toMatchObject({ name: "fraud2", version: "1", aliases: ["champion"] });
    expect(got.body.registered_model.tags).toEqual([{ key: "team", value: "risk" }]);
    expect((await t.call("GET", "registered-models/get?name=fraud")).body.error_code).toBe("RESOURCE_DOES_NOT_EXIST");

    const upd = await t.call("PATCH", "registered-models/update", { name: "fraud2", description: "new" });
    expect(upd.body.registered_model.description).toBe("new");
    expect((await t.call("DELETE", "registered-models/delete", { name: "fraud2" })).status).toBe(200);
    const gone = await t.call("GET", "registered-models/get?name=fraud2");
    expect(gone.status).toBe(404);
    expect(gone.body.error_code).toBe("RESOURCE_DOES_NOT_EXIST");
    // the name is free again, and numbering restarts with it
    await create("fraud2");
    expect((await version("fraud2")).body.model_version.version).toBe("1");
  });

  it("refuses bad names with INVALID_PARAMETER_VALUE", async () => {
    expect((await create("")).body.error_code).toBe("INVALID_PARAMETER_VALUE");
    expect((await create("a/b")).body.error_code).toBe("INVALID_PARAMETER_VALUE");
    expect((await t.call("POST", "registered-models/create", {})).body.error_code).toBe("INVALID_PARAMETER_VALUE");
  });

  it("searches registered models with LIKE, ILIKE, tags, order_by and pages", async () => {
    for (const [n, team] of [["Alpha", "a"], ["alpha-2", "b"], ["beta", "a"], ["gamma", "b"]] as const) {
      await create(n, { tags: [{ key: "team", value: team }] });
    }
    const names = async (q: string) => (await t.call("GET", `registered-models/search?${q}`)).body.registered_models?.map((m: any) => m.name);
    expect(await names(`filter=${encodeURIComponent("name LIKE 'alpha%'")}`)).toEqual(["alpha-2"]);
    expect(await names(`filter=${encodeURIComponent("name ILIKE 'alpha%'")}`)).toEqual(["Alpha", "alpha-2"]);
    expect(await names(`filter=${encodeURIComponent("tags.team = 'a'")}`)).toEqual(["Alpha", "beta"]);
    expect(await names(`filter=${encodeURIComponent("name != 'beta' AND tags.`team` = 'a'")}`)).toEqual(["Alpha"]);
    expect(await names(`order_by=${encodeURIComponent("name DESC")}`)).toEqual(["gamma", "beta", "alpha-2", "Alpha"]);
    // `!=` on a tag matches models without the tag (MLflow clients add this filter to every search)
    expect(await names(`filter=${encodeURIComponent("name ILIKE 'a%' AND tag.`mlflow.prompt.is_prompt` != 'true'")}`)).toEqual(["Alpha", "alpha-2"]);
    expect(await names(`filter=${encodeURIComponent("tags.team != 'a'")}`)).toEqual(["alpha-2", "gamma"]);
    const p1 = await t.call("GET", "registered-models/search?max_results=3");
    expect(p1.body.registered_models).toHaveLength(3);
    const p2 = await t.call("GET", `registered-models/search?max_results=3&page_token=${encodeURIComponent(p1.body.next_page_token)}`);
    expect(p2.body.registered_models.map((m: any) => m.name)).toEqual(["gamma"]);
    expect(p2.body.next_page_token).toBeUndefined();
    // POST works as well (the UI uses it)
    expect((await t.call("POST", "registered-models/search", { filter: "name = 'beta'" })).body.registered_models).toHaveLength(1);

    expect((await t.call("GET", `registered-models/search?filter=${encodeURIComponent("version = 1")}`)).body.error_code).toBe("INVALID_PARAMETER_VALUE");
    expect((await t.call("GET", `registered-models/search?filter=${encodeURIComponent("name = 'x' OR name = 'y'")}`)).body.error_code).toBe("INVALID_PARAMETER_VALUE");
    expect((await t.call("GET", `registered-models/search?order_by=bogus`)).body.error_code).toBe("INVALID_PARAMETER_VALUE");
    expect((await t.call("GET", `registered-models/search?max_results=5000`)).body.error_code).toBe("INVALID_PARAMETER_VALUE");
    expect((await t.call("GET", `registered-models/search?page_token=garbage`)).body.error_code).toBe("INVALID_PARAMETER_VALUE");
  });

  it("creates versions from runs:/, models:/ and mlflow-artifacts:/ sources and resolves their download URI", async () => {
    await create("m");
    const v1 = await version("m");
    expect(v1.status).toBe(200);
    expect(v1.body.model_version).toMatchObject({ name: "m", version: "1", current_stage: "None", source: `runs:/${runId}/model`, run_id: runId, status: "READY" });
    const dl = await t.call("GET", "model-versions/get-download-uri?name=m&version=1");
    expect(dl.body.artifact_uri).toBe(`${artifactUri}/model`);

    const v2 = await version("m", `${artifactUri}/model`);
    expect(v2.body.model_version.version).toBe("2");

    const lm = (await t.call("POST", "logged-models", { experiment_id: "0", name: "lm", source_run_id: runId })).body.model.info;
    const v3 = await t.call("POST", "model-versions/create", { name: "m", source: `models:/${lm.model_id}`, model_id: lm.model_id });
    expect(v3.body.model_version).toMatchObject({ version: "3", model_id: lm.model_id, run_id: runId });
    expect((await t.call("GET", "model-versions/get-download-uri?name=m&version=3")).body.artifact_uri).toBe(lm.artifact_uri);
    // the logged model lists where it was registered
    expect((await t.call("GET", `logged-models/${lm.model_id}`)).body.model.info.registrations).toEqual([{ name: "m", version: "3" }]);

    // copy: models:/<name>/<version> into another registered model
    await create("m-prod");
    const copy = await t.call("POST", "model-versions/create", { name: "m-prod", source: "models:/m/1", run_id: runId });
    expect(copy.body.model_version).toMatchObject({ name: "m-prod", version: "1", source: "models:/m/1", run_id: runId });
    expect((await t.call("GET", "model-versions/get-download-uri?name=m-prod&version=1")).body.artifact_uri).toBe(`${artifactUri}/model`);
    // by alias
    await t.call("POST", "registered-models/alias", { name: "m", alias: "champion", version: "2" });
    const byAlias = await t.call("POST", "model-versions/create", { name: "m-prod", source: "models:/m@champion" });
    expect(byAlias.body.model_version.source).toBe("models:/m/2");

    expect((await version("nope")).body.error_code).toBe("RESOURCE_DOES_NOT_EXIST");
  });

  describe("refuses sources outside the artifact roots", () => {
    const cases: [string, (run: string, root: string) => string][] = [
      ["an absolute local path", () => "/etc/passwd"],
      ["a file:// URI", () => "file:///etc/passwd"],
      ["a file URI into the run's folder", (_r, root) => `file://${root.replace(/^[a-z-]+:/, "")}/model`],
      ["//proc/self/root", () => "//proc/self/root/etc/passwd"],
      ["a schemeless relative path", () => "model"],
      ["a schemeless parent path", () => "../../etc"],
      ["'..' in an mlflow-artifacts URI", (_r, root) => `${root}/../../../etc/passwd`],
      ["encoded '..' in an mlflow-artifacts URI", (_r, root) => `${root}/%2e%2e/%2e%2e/%2e%2e/etc`],
      ["double-encoded '..'", (_r, root) => `${root}/%252e%252e/%252e%252e/etc`],
      ["encoded slash and dots", (_r, root) => `${root}/..%2f..%2f..%2fetc`],
      ["'..' in an http proxy URI", () => "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/0/../../../../etc"],
      ["an http URI outside the run", () => "http://169.254.169.254/latest/meta-data"],
      ["a '#' fragment", (_r, root) => `${root}/model#/../../etc`],
      ["a '?' query", (_r, root) => `${root}/model?x=/../../etc`],
      ["backslashes", (_r, root) => `${root}\\..\\..\\etc`],
      ["a NUL byte", (_r, root) => `${root}/model%00`],
      ["an mlflow-artifacts URI of another run", () => "mlflow-artifacts:/0/someotherrun/artifacts/model"],
      ["runs:/ of another run than run_id", () => "runs:/0123456789abcdef0123456789abcdef/model"],
      ["runs:// with a host", (run) => `runs://host/${run}/model`],
      ["models:// with a host", () => "models://host/m/1"],
      ["s3 outside the run", () => "s3://bucket/other/model"],
      ["a Windows path", () => "C:\\Windows\\system32"],
    ];
    for (const [what, make] of cases) {
      it(what, async () => {
        await create("safe");
        const r = await t.call("POST", "model-versions/create", { name: "safe", source: make(runId, artifactUri), run_id: runId });
        expect(r.status).toBe(400);
        expect(r.body.error_code).toBe("INVALID_PARAMETER_VALUE");
      });
    }
    it("an mlflow-artifacts URI without run_id or model_id", async () => {
      await create("safe");
      const r = await t.call("POST", "model-versions/create", { name: "safe", source: `${artifactUri}/model` });
      expect(r.body.error_code).toBe("INVALID_PARAMETER_VALUE");
    });
  });

  it("gets, updates, tags, stages and deletes versions", async () => {
    await create("m");
    for (let i = 0; i < 3; i++) await version("m");
    const upd = await t.call("PATCH", "model-versions/update", { name: "m", version: "2", description: "two" });
    expect(upd.body.model_version.description).toBe("two");
    await t.call("POST", "model-versions/set-tag", { name: "m", version: "2", key: "validated", value: "yes" });
    expect((await t.call("GET", "model-versions/get?name=m&version=2")).body.model_version.tags).toEqual([{ key: "validated", value: "yes" }]);
    expect((await t.call("DELETE", "model-versions/delete-tag", { name: "m", version: "2", key: "validated" })).status).toBe(200);
    expect((await t.call("DELETE", "model-versions/delete-tag", { name: "m", version: "2", key: "validated" })).body.error_code).toBe("RESOURCE_DOES_NOT_EXIST");

    await t.call("POST", "model-versions/transition-stage", { name: "m", version: "1", stage: "Production", archive_existing_versions: false });
    const tr = await t.call("POST", "model-versions/transition-stage", { name: "m", version: "2", stage: "production", archive_existing_versions: true });
    expect(tr.body.model_version.current_stage).toBe("Production");
    expect((await t.call("GET", "model-versions/get?name=m&version=1")).body.model_version.current_stage).toBe("Archived");
    expect((await t.call("POST", "model-versions/transition-stage", { name: "m", version: "1", stage: "Prod" })).body.error_code).toBe("INVALID_PARAMETER_VALUE");

    const latest = await t.call("POST", "registered-models/get-latest-versions", { name: "m", stages: ["Production"] });
    expect(latest.body.model_versions.map((v: any) => v.version)).toEqual(["2"]);
    const all = await t.call("GET", "registered-models/get-latest-versions?name=m");
    expect(all.body.model_versions.map((v: any) => [v.version, v.current_stage])).toEqual([["1", "Archived"], ["2", "Production"], ["3", "None"]]);

    expect((await t.call("DELETE", "model-versions/delete", { name: "m", version: "3" })).status).toBe(200);
    expect((await t.call("GET", "model-versions/get?name=m&version=3")).body.error_code).toBe("RESOURCE_DOES_NOT_EXIST");
    // a deleted number is never reused
    expect((await version("m")).body.model_version.version).toBe("4");
    expect((await t.call("GET", "model-versions/get?name=m&version=abc")).body.error_code).toBe("INVALID_PARAMETER_VALUE");
  });

  it("sets, reads and deletes aliases, refusing reserved names", async () => {
    await create("m");
    await version("m");
    await version("m");
    expect((await t.call("POST", "registered-models/alias", { name: "m", alias: "champion", version: "1" })).status).toBe(200);
    expect((await t.call("POST", "registered-models/alias", { name: "m", alias: "champion", version: "2" })).status).toBe(200);
    const mv = await t.call("GET", "registered-models/alias?name=m&alias=champion");
    expect(mv.body.model_version).toMatchObject({ version: "2", aliases: ["champion"] });
    expect((await t.call("POST", "registered-models/alias", { name: "m", alias: "latest", version: "1" })).body.error_code).toBe("INVALID_PARAMETER_VALUE");
    expect((await t.call("POST", "registered-models/alias", { name: "m", alias: "v3", version: "1" })).body.error_code).toBe("INVALID_PARAMETER_VALUE");
    expect((await t.call("POST", "registered-models/alias", { name: "m", alias: "bad alias", version: "1" })).body.error_code).toBe("INVALID_PARAMETER_VALUE");
    expect((await t.call("POST", "registered-models/alias", { name: "m", alias: "x", version: "9" })).body.error_code).toBe("RESOURCE_DOES_NOT_EXIST");
    expect((await t.call("DELETE", "registered-models/alias", { name: "m", alias: "champion" })).status).toBe(200);
    expect((await t.call("GET", "registered-models/alias?name=m&alias=champion")).body.error_code).toBe("RESOURCE_DOES_NOT_EXIST");
    // deleting a version drops its aliases
    await t.call("POST", "registered-models/alias", { name: "m", alias: "old", version: "1" });
    await t.call("DELETE", "model-versions/delete", { name: "m", version: "1" });
    expect((await t.call("GET", "registered-models/get?name=m")).body.registered_model.aliases).toEqual([]);
  });

  it("searches versions by name, run_id, source and tags", async () => {
    await create("a");
    await create("b");
    await version("a", undefined, { tags: [{ key: "k", value: "1" }] });
    await version("a");
    await version("b", `runs:/${runId}/other`);
    const q = async (filter: string, extra = "") =>
      (await t.call("GET", `model-versions/search?filter=${encodeURIComponent(filter)}${extra}`)).body.model_versions?.map((v: any) => `${v.name}/${v.version}`);
    expect(await q("name = 'a'")).toEqual(["a/2", "a/1"]);
    expect((await q(`run_id = '${runId}'`)).sort()).toEqual(["a/1", "a/2", "b/1"]);
    // with no order_by, the most recently updated version comes first (MLflow's default order)
    await t.call("PATCH", "model-versions/update", { name: "a", version: "1", description: "touched" });
    expect((await q(`run_id = '${runId}'`))[0]).toBe("a/1");
    expect(await q(`run_id IN ('${runId}', 'x')`)).toHaveLength(3);
    expect(await q("source_path LIKE '%/other'")).toEqual(["b/1"]);
    expect(await q("tags.k = '1'")).toEqual(["a/1"]);
    expect(await q("name = 'a'", `&order_by=${encodeURIComponent("version_number ASC")}`)).toEqual(["a/1", "a/2"]);
    expect(await q("name = 'a' AND version_number > 1")).toEqual(["a/2"]);
    expect((await t.call("GET", `model-versions/search?filter=${encodeURIComponent("bogus = 'x'")}`)).body.error_code).toBe("INVALID_PARAMETER_VALUE");
  });
});

describe("model version sources on a local artifact root (MLflow's rules)", () => {
  let t: TestApp;
  let runId: string;
  let runDir: string;
  beforeEach(async () => {
    const probe = await makeTestApp();
    const root = `file://${probe.dir}/artifacts-root`;
    await probe.close();
    t = await makeTestApp({ defaultArtifactRoot: root, serveArtifacts: false });
    const r = await t.call("POST", "runs/create", { experiment_id: "0", start_time: Date.now() });
    runId = r.body.run.info.run_id;
    expect(r.body.run.info.artifact_uri.startsWith("file://")).toBe(true);
    runDir = r.body.run.info.artifact_uri.slice("file://".length);
    await t.call("POST", "registered-models/create", { name: "m" });
  });
  afterEach(async () => t.close());
  const create = (source: string, extra: Record<string, unknown> = { run_id: runId }) =>
    t.call("POST", "model-versions/create", { name: "m", source, ...extra });

  it("accepts a path or file URI inside the run's artifact folder, '.' and '..' resolved", async () => {
    for (const source of [runDir, `${runDir}/model`, `file://${runDir}`, `file://${runDir}/model`, `file://${runDir}/.`, `file://${runDir}/model/..`]) {
      const r = await create(source);
      expect(r.status, source).toBe(200);
      expect(r.body.model_version.source).toBe(source);
    }
  });

  it("refuses local sources without run_id or outside the run's folder, with MLflow's message", async () => {
    for (const [source, extra] of [[runDir, {}], ["/tmp", { run_id: runId }], [`${runDir}/../../elsewhere`, { run_id: runId }], ["file:///tmp", {}]] as const) {
      const r = await create(source, extra);
      expect(r.status, source).toBe(400);
      expect(r.body.error_code).toBe("INVALID_PARAMETER_VALUE");
      expect(r.body.message).toContain("To use a local path as a model version source, the run_id request parameter has to be specified");
    }
  });

  it("follows symbolic links before deciding: a link inside the run's folder to /etc is refused", async () => {
    fs.mkdirSync(runDir, { recursive: true });
    fs.symlinkSync("/etc", path.join(runDir, "escape"));
    const r = await create(`${runDir}/escape/passwd`);
    expect(r.status).toBe(400);
    expect(r.body.message).toContain("'/etc/passwd'");
  });

  it("answers a file URI naming a remote host with 400", async () => {
    const r = await create("file://123.456.789.123/path/to/source");
    expect(r.status).toBe(400);
    expect(r.body.message).toContain("is not a valid remote uri");
  });

  it("takes runs:/ sources that name the run_id given, whether or not the run is here", async () => {
    const ghost = "0123456789abcdef0123456789abcdef";
    expect((await create(`runs:/${ghost}/model`, { run_id: ghost })).status).toBe(200);
    const other = await create(`runs:/${ghost}/model`, { run_id: runId });
    expect(other.status).toBe(400);
    expect(other.body.message).toBe(`Invalid model version source: 'runs:/${ghost}/model'. The run_id request parameter must identify the resource that contains the source.`);
    expect((await create(`runs:/${runId}/model`, {})).status).toBe(400);
  });

  it("refuses relative paths in remote sources with MLflow's message", async () => {
    for (const source of ["mlflow-artifacts://host:9000/models/../../../", "http://host:9000/models/../../../", "s3a://b/api/2.0/mlflow-artifacts/artifacts/../../../", "mlflow-artifacts://host:9000/models/..%2f..%2fartifacts", "mlflow-artifacts://host:9000/models/artifact%00"]) {
      const r = await create(source);
      expect(r.status, source).toBe(400);
      expect(r.body.message).toContain("If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri");
    }
  });
});
