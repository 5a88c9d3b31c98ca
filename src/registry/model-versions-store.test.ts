import { beforeEach, expect, it } from "vitest";
import { describeStoreContract, expectMlflowError } from "../../test/helpers/contract.js";
import { ModelVersionStore, type NewModelVersion } from "./model-versions-store.js";
import { RegisteredModelStore } from "./registered-models-store.js";


describeStoreContract("model version store (versions, stages, aliases)", (ctx) => {
  let models: RegisteredModelStore;
  let versions: ModelVersionStore;
  beforeEach(async () => {
    models = new RegisteredModelStore(ctx.db);
    versions = new ModelVersionStore(ctx.db, models);
    await models.create("m", undefined, [], 1);
  });

  const fields = (over: Partial<NewModelVersion> = {}): NewModelVersion => ({
    name: "m",
    description: null,
    source: "runs:/r1/model",
    storage_location: "mlflow-artifacts:/0/r1/artifacts/model",
    run_id: "r1",
    run_link: null,
    model_id: null,
    ...over,
  });
  const stageOf = async (name: string, v: number) => (await versions.get(name, v)).current_stage;
  const search = async (filter?: string, orderBy?: string[], limit = 100, offset = 0) =>
    (await versions.search(versions.compileSearch(filter, orderBy), limit, offset)).map((v) => `${v.name}/${v.version}`);

  it("numbers versions per model from 1, stores their fields and tags, and touches the model", async () => {
    expect(await versions.create(fields({ description: "first", run_link: "http://x/run" }), [{ key: "k", value: "a" }, { key: "k", value: "b" }], 10)).toBe(1);
    expect(await versions.create(fields({ model_id: "m-00000000000000000000000000000001", run_id: null }), [], 20)).toBe(2);
    await models.create("other", undefined, [], 1);
    expect(await versions.create(fields({ name: "other" }), [], 30)).toBe(1);
    expect(await versions.get("m", 1)).toEqual({
      name: "m",
      version: "1",
      creation_timestamp: 10,
      last_updated_timestamp: 10,
      user_id: undefined,
      current_stage: "None",
      description: "first",
      source: "runs:/r1/model",
      run_id: "r1",
      status: "READY",
      status_message: undefined,
      tags: [{ key: "k", value: "b" }],
      run_link: "http://x/run",
      aliases: [],
      model_id: undefined,
    });
    expect(await versions.get("m", 2)).toMatchObject({ run_id: undefined, model_id: "m-00000000000000000000000000000001" });
    expect((await versions.row("m", 1)).storage_location).toBe("mlflow-artifacts:/0/r1/artifacts/model");
    expect((await models.get("m")).last_updated_timestamp).toBe(20);
    await expectMlflowError(versions.create(fields({ name: "nope" }), [], 1), "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=nope not found");
    await expectMlflowError(versions.get("m", 3), "RESOURCE_DOES_NOT_EXIST", "Model Version (name=m, version=3) not found");
  });

  it("gives concurrent writers distinct version numbers", async () => {
    const got = await Promise.all(Array.from({ length: 8 }, (_, i) => versions.create(fields(), [{ key: "i", value: String(i) }], 100 + i)));
    expect([...got].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await search("name = 'm'", ["version_number ASC"])).toEqual(["m/1", "m/2", "m/3", "m/4", "m/5", "m/6", "m/7", "m/8"]);
  });

  it("updates a description; deletes a version for good, keeping its number taken", async () => {
    await versions.create(fields(), [{ key: "k", value: "v" }], 1);
    await versions.create(fields(), [], 2);
    await versions.update("m", 1, "better", 5);
    expect(await versions.get("m", 1)).toMatchObject({ description: "better", last_updated_timestamp: 5 });
    await versions.setAlias("m", "champion", 2, 6);
    await versions.delete("m", 2, 7);
    await expectMlflowError(versions.get("m", 2), "RESOURCE_DOES_NOT_EXIST");
    await expectMlflowError(versions.update("m", 2, "x", 8), "RESOURCE_DOES_NOT_EXIST");
    await expectMlflowError(versions.delete("m", 2, 8), "RESOURCE_DOES_NOT_EXIST");
    await expectMlflowError(versions.versionByAlias("m", "champion"), "RESOURCE_DOES_NOT_EXIST", "Registered model alias champion not found.");
    expect((await models.get("m")).last_updated_timestamp).toBe(7);
    expect(await versions.create(fields(), [], 9)).toBe(3);
    expect(await search()).toEqual(["m/3", "m/1"]);
  });

  it("moves versions between stages, archiving the previous holder on request", async () => {
    for (let i = 0; i < 3; i++) await versions.create(fields(), [], 1);
    await versions.transitionStage("m", 1, "Production", false, 10);
    await versions.transitionStage("m", 2, "Production", false, 11);
    expect([await stageOf("m", 1), await stageOf("m", 2)]).toEqual(["Production", "Production"]);
    await versions.transitionStage("m", 3, "Production", true, 12);
    expect([await stageOf("m", 1), await stageOf("m", 2), await stageOf("m", 3)]).toEqual(["Archived", "Archived", "Production"]);
    // Archiving others happens only for Staging and Production.
    await versions.transitionStage("m", 1, "None", true, 13);
    await versions.transitionStage("m", 2, "None", true, 14);
    expect([await stageOf("m", 1), await stageOf("m", 2)]).toEqual(["None", "None"]);
    expect(await versions.get("m", 2)).toMatchObject({ last_updated_timestamp: 14 });
    expect((await models.get("m")).last_updated_timestamp).toBe(14);
    await expectMlflowError(versions.transitionStage("m", 9, "Staging", false, 15), "RESOURCE_DOES_NOT_EXIST");
  });

  it("lists the newest version per stage, for one model (stages matched case-insensitively) or many", async () => {
    for (let i = 0; i < 4; i++) await versions.create(fields(), [{ key: "t", value: String(i + 1) }], 1);
    await versions.transitionStage("m", 1, "Production", false, 2);
    await versions.transitionStage("m", 2, "Staging", false, 2);
    await versions.transitionStage("m", 3, "Staging", false, 2);
    const latest = await versions.latest("m", undefined);
    expect(latest.map((v) => [v.version, v.current_stage])).toEqual([["1", "Production"], ["3", "Staging"], ["4", "None"]]);
    expect(latest[0]!.tags).toEqual([{ key: "t", value: "1" }]);
    expect((await versions.latest("m", ["staging", "PRODUCTION"])).map((v) => v.version)).toEqual(["1", "3"]);
    expect(await versions.latest("m", ["Archived"])).toEqual([]);
    await expectMlflowError(versions.latest("nope", undefined), "RESOURCE_DOES_NOT_EXIST");

    await models.create("n", undefined, [], 1);
    await versions.create(fields({ name: "n" }), [], 1);
    await versions.setAlias("n", "champion", 1, 1);
    const each = await versions.latestOfEach(["m", "n", "nope"]);
    expect(each.map((v) => `${v.name}/${v.version}/${v.current_stage}`).sort()).toEqual(["m/1/Production", "m/3/Staging", "m/4/None", "n/1/None"]);
    // What a registered model lists carries aliases but not tags.
    expect(each.find((v) => v.name === "n")).toMatchObject({ aliases: ["champion"], tags: [] });
    expect(await versions.latestOfEach([])).toEqual([]);
  });

  it("sets (upserts) and deletes version tags", async () => {
    await versions.create(fields(), [], 1);
    await versions.setTag("m", 1, "k", "1");
    await versions.setTag("m", 1, "k", "2");
    await versions.setTag("m", 1, "a", "x");
    expect((await versions.get("m", 1)).tags).toEqual([{ key: "a", value: "x" }, { key: "k", value: "2" }]);
    await versions.deleteTag("m", 1, "k");
    expect((await versions.get("m", 1)).tags).toEqual([{ key: "a", value: "x" }]);
    await expectMlflowError(versions.deleteTag("m", 1, "k"), "RESOURCE_DOES_NOT_EXIST", "No tag with key=k on model version (name=m, version=1)");
    await expectMlflowError(versions.setTag("m", 5, "k", "v"), "RESOURCE_DOES_NOT_EXIST");
  });

  it("points aliases at live versions, moves and removes them", async () => {
    await versions.create(fields(), [], 1);
    await versions.create(fields(), [], 1);
    await versions.setAlias("m", "champion", 1, 5);
    await versions.setAlias("m", "backup", 1, 6);
    expect(await versions.versionByAlias("m", "champion")).toBe(1);
    expect((await versions.get("m", 1)).aliases).toEqual(["backup", "champion"]);
    await versions.setAlias("m", "champion", 2, 7);
    expect(await versions.versionByAlias("m", "champion")).toBe(2);
    expect((await versions.get("m", 1)).aliases).toEqual(["backup"]);
    expect((await models.get("m")).last_updated_timestamp).toBe(7);
    expect(await versions.aliasesOf(["m", "nope"])).toEqual(new Map([["m", [{ alias: "backup", version: "1" }, { alias: "champion", version: "2" }]]]));

    expect(await versions.deleteAlias("m", "backup", 8)).toBe(true);
    expect(await versions.deleteAlias("m", "backup", 9)).toBe(false);
    expect((await models.get("m")).last_updated_timestamp).toBe(8);
    await expectMlflowError(versions.setAlias("m", "x", 3, 10), "RESOURCE_DOES_NOT_EXIST", "Model Version (name=m, version=3) not found");
    await expectMlflowError(versions.setAlias("nope", "x", 1, 10), "RESOURCE_DOES_NOT_EXIST");
    await expectMlflowError(versions.deleteAlias("nope", "x", 10), "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=nope not found");
    await expectMlflowError(versions.versionByAlias("m", "backup"), "RESOURCE_DOES_NOT_EXIST", "Registered model alias backup not found.");
    await expectMlflowError(versions.versionByAlias("nope", "champion"), "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=nope not found");
  });

  it("searches versions by attributes and tags, with order and pages, never showing deleted ones", async () => {
    await models.create("n", undefined, [], 1);
    await versions.create(fields({ run_id: "r1" }), [{ key: "env", value: "prod" }], 10);
    await versions.create(fields({ run_id: "r2", source: "models:/m-00000000000000000000000000000002", model_id: "m-00000000000000000000000000000002" }), [], 20);
    await versions.create(fields({ run_id: "r3" }), [{ key: "env", value: "dev" }], 30);
    await versions.create(fields({ name: "n", run_id: "r1" }), [{ key: "env", value: "prod" }], 40);
    await versions.delete("m", 3, 50);
    expect(await search()).toEqual(["m/2", "m/1", "n/1"]);
    expect(await search("name = 'm'")).toEqual(["m/2", "m/1"]);
    expect(await search("run_id = 'r1'")).toEqual(["m/1", "n/1"]);
    expect(await search("run_id IN ('r2', 'r3')")).toEqual(["m/2"]);
    expect(await search("version_number >= 2")).toEqual(["m/2"]);
    expect(await search("version_number = '1'")).toEqual(["m/1", "n/1"]);
    expect(await search("source_path LIKE 'models:/%'")).toEqual(["m/2"]);
    expect(await search("model_id = 'm-00000000000000000000000000000002'")).toEqual(["m/2"]);
    expect(await search("tags.env = 'prod'")).toEqual(["m/1", "n/1"]);
    expect(await search("tags.env != 'prod'")).toEqual(["m/2"]);
    expect(await search("tags.env ILIKE 'PR%' AND name = 'n'")).toEqual(["n/1"]);
    expect(await search(undefined, ["creation_timestamp DESC"])).toEqual(["n/1", "m/2", "m/1"]);
    expect(await search(undefined, ["version_number ASC"])).toEqual(["m/1", "n/1", "m/2"]);
    expect([...(await search(undefined, undefined, 2, 0)), ...(await search(undefined, undefined, 2, 2))]).toEqual(["m/2", "m/1", "n/1"]);
    await expectMlflowError(search("version_number > 'x'"), "INVALID_PARAMETER_VALUE", "expected a numeric value");
    await expectMlflowError(search("version_number LIKE '1'"), "INVALID_PARAMETER_VALUE", "Invalid comparator 'LIKE'");
    await expectMlflowError(search("bogus = 'x'"), "INVALID_PARAMETER_VALUE", "Invalid attribute key 'bogus'");
    await expectMlflowError(search("metrics.acc > 1"), "INVALID_PARAMETER_VALUE", "Model versions can be filtered on attributes and tags");
  });

  it("lists the live versions registered from each logged model", async () => {
    const id = "m-00000000000000000000000000000009";
    await models.create("n", undefined, [], 1);
    await versions.create(fields({ model_id: id }), [], 1);
    await versions.create(fields({ model_id: id }), [], 1);
    await versions.create(fields({ name: "n", model_id: id }), [], 1);
    await versions.delete("m", 1, 2);
    expect(await versions.registrationsOf([id, "m-other"])).toEqual(new Map([[id, [{ name: "m", version: "2" }, { name: "n", version: "1" }]]]));
    expect(await versions.registrationsOf([])).toEqual(new Map());
  });
});
