import { beforeEach, expect, it } from "vitest";
import { describeStoreContract, expectMlflowError } from "../../test/helpers/contract.js";
import { ModelVersionStore } from "./model-versions-store.js";
import { RegisteredModelStore } from "./registered-models-store.js";


describeStoreContract("registered model store", (ctx) => {
  let models: RegisteredModelStore;
  let versions: ModelVersionStore;
  beforeEach(() => {
    models = new RegisteredModelStore(ctx.db);
    versions = new ModelVersionStore(ctx.db, models);
  });

  const version = (name: string, now = 10) =>
    versions.create({ name, description: null, source: "runs:/r/model", storage_location: "mlflow-artifacts:/0/r/artifacts/model", run_id: "r", run_link: null, model_id: null }, [], now);
  const search = async (filter?: string, orderBy?: string[], limit = 100, offset = 0) =>
    (await models.search(models.compileSearch(filter, orderBy), limit, offset)).map((m) => m.name);

  it("creates a model with tags (the last of a repeated key wins) and reads it back; names are unique", async () => {
    await models.create("fraud", "detects fraud", [{ key: "team", value: "a" }, { key: "team", value: "risk" }, { key: "tier", value: "1" }], 100);
    expect(await models.get("fraud")).toEqual({
      name: "fraud",
      creation_timestamp: 100,
      last_updated_timestamp: 100,
      user_id: undefined,
      description: "detects fraud",
      tags: [{ key: "team", value: "risk" }, { key: "tier", value: "1" }],
    });
    await expectMlflowError(models.create("fraud", undefined, [], 200), "RESOURCE_ALREADY_EXISTS", "Registered Model (name=fraud) already exists.");
    await expectMlflowError(models.get("nope"), "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=nope not found");
    await models.create("bare", undefined, [], 5);
    expect((await models.get("bare")).description).toBeUndefined();
  });

  it("renames a model with its versions, tags and aliases; refuses a taken or unknown name", async () => {
    await models.create("a", undefined, [{ key: "k", value: "v" }], 1);
    await models.create("taken", undefined, [], 1);
    await version("a");
    await versions.setTag("a", 1, "vt", "x");
    await versions.setAlias("a", "champion", 1, 2);
    await models.rename("a", "b", 50);
    await expectMlflowError(models.get("a"), "RESOURCE_DOES_NOT_EXIST");
    expect(await models.get("b")).toMatchObject({ name: "b", last_updated_timestamp: 50, tags: [{ key: "k", value: "v" }] });
    expect(await versions.get("b", 1)).toMatchObject({ name: "b", version: "1", tags: [{ key: "vt", value: "x" }], aliases: ["champion"] });
    expect(await versions.versionByAlias("b", "champion")).toBe(1);
    await expectMlflowError(models.rename("b", "taken", 60), "RESOURCE_ALREADY_EXISTS", "Registered Model (name=taken) already exists.");
    await expectMlflowError(models.rename("nope", "x", 60), "RESOURCE_DOES_NOT_EXIST");
    expect((await models.get("b")).last_updated_timestamp).toBe(50);
  });

  it("updates the description and the update time", async () => {
    await models.create("m", "old", [], 1);
    await models.update("m", "new", 9);
    expect(await models.get("m")).toMatchObject({ description: "new", last_updated_timestamp: 9, creation_timestamp: 1 });
    await expectMlflowError(models.update("nope", "x", 9), "RESOURCE_DOES_NOT_EXIST");
  });

  it("sets (upserts) and deletes tags; touching marks the model changed", async () => {
    await models.create("m", undefined, [], 1);
    await models.setTag("m", "k", "1", 2);
    await models.setTag("m", "k", "2", 3);
    expect(await models.get("m")).toMatchObject({ tags: [{ key: "k", value: "2" }], last_updated_timestamp: 3 });
    await models.deleteTag("m", "k");
    expect((await models.get("m")).tags).toEqual([]);
    await expectMlflowError(models.deleteTag("m", "k"), "RESOURCE_DOES_NOT_EXIST", "No tag with key=k on registered model m");
    await expectMlflowError(models.setTag("nope", "k", "v", 4), "RESOURCE_DOES_NOT_EXIST");
    await models.touch("m", 77);
    expect((await models.get("m")).last_updated_timestamp).toBe(77);
    expect((await models.row("m")).name).toBe("m");
  });

  it("deletes a model with everything under it, in one transaction", async () => {
    await models.create("m", undefined, [{ key: "k", value: "v" }], 1);
    await version("m");
    await version("m");
    await versions.setTag("m", 2, "vt", "x");
    await versions.setAlias("m", "champion", 2, 3);
    // A failure inside the deletion leaves everything as it was.
    await expect(
      models.delete("m", async (tx) => {
        await versions.deleteAllOf("m", tx);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect((await versions.get("m", 2)).aliases).toEqual(["champion"]);

    await models.delete("m", (tx) => versions.deleteAllOf("m", tx));
    await expectMlflowError(models.get("m"), "RESOURCE_DOES_NOT_EXIST");
    await expectMlflowError(models.delete("m", async () => {}), "RESOURCE_DOES_NOT_EXIST");
    for (const table of ["registered_model_tags", "model_versions", "model_version_tags", "registered_model_aliases"]) {
      const left = await ctx.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE name = ?`, ["m"]);
      expect(Number(left!.n), table).toBe(0);
    }
    // The name is free again, and its numbering starts over.
    await models.create("m", undefined, [], 5);
    expect(await version("m")).toBe(1);
  });

  it("searches by name (LIKE is case-sensitive, ILIKE is not), by tags, with IN lists, order and pages", async () => {
    const made: [string, string | undefined, number][] = [["Alpha", "a", 4], ["alpha-2", "b", 3], ["beta", "a", 2], ["gamma", undefined, 1]];
    for (const [name, team, t] of made) await models.create(name, undefined, team ? [{ key: "team", value: team }] : [], t);
    expect(await search()).toEqual(["Alpha", "alpha-2", "beta", "gamma"]);
    expect(await search("name LIKE 'alpha%'")).toEqual(["alpha-2"]);
    expect(await search("name ILIKE 'ALPHA%'")).toEqual(["Alpha", "alpha-2"]);
    expect(await search("name LIKE '_eta'")).toEqual(["beta"]);
    expect(await search("name = 'beta'")).toEqual(["beta"]);
    expect(await search("name != 'beta'")).toEqual(["Alpha", "alpha-2", "gamma"]);
    expect(await search("name IN ('beta', 'gamma', 'nope')")).toEqual(["beta", "gamma"]);
    expect(await search("name NOT IN ('beta')")).toEqual(["Alpha", "alpha-2", "gamma"]);
    expect(await search("tags.team = 'a'")).toEqual(["Alpha", "beta"]);
    // `!=` on a tag also matches models without the tag, as MLflow clients expect.
    expect(await search("tags.team != 'a'")).toEqual(["alpha-2", "gamma"]);
    expect(await search("tags.team LIKE '%' AND name ILIKE '%a%'")).toEqual(["Alpha", "alpha-2", "beta"]);
    expect(await search(undefined, ["creation_timestamp DESC"])).toEqual(["Alpha", "alpha-2", "beta", "gamma"]);
    expect(await search(undefined, ["last_updated_timestamp ASC"])).toEqual(["gamma", "beta", "alpha-2", "Alpha"]);
    expect(await search(undefined, ["name DESC"])).toEqual(["gamma", "beta", "alpha-2", "Alpha"]);
    expect([...(await search(undefined, undefined, 3, 0)), ...(await search(undefined, undefined, 3, 3))]).toEqual(["Alpha", "alpha-2", "beta", "gamma"]);
    await expectMlflowError(search("run_id = 'x'"), "INVALID_PARAMETER_VALUE", "Invalid attribute key 'run_id'");
    await expectMlflowError(search("params.p = 'x'"), "INVALID_PARAMETER_VALUE", "Registered models can be filtered on name and tags");
    await expectMlflowError(search("name > 'a'"), "INVALID_PARAMETER_VALUE", "Invalid comparator '>'");
  });

  it("takes only % and _ as LIKE wildcards (SQLite's GLOB characters stay literal)", async () => {
    for (const name of ["a*b", "a?b", "a[b", "axb"]) await models.create(name, undefined, [], 1);
    expect(await search("name LIKE 'a*b'")).toEqual(["a*b"]);
    expect(await search("name LIKE 'a?b'")).toEqual(["a?b"]);
    expect(await search("name LIKE 'a[b'")).toEqual(["a[b"]);
    expect((await search("name LIKE 'a_b'")).sort()).toEqual(["a*b", "a?b", "a[b", "axb"]);
  });
});
