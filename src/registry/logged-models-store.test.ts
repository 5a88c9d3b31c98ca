import { beforeEach, expect, it } from "vitest";
import { describeStoreContract, expectMlflowError } from "../../test/helpers/contract.js";
import { TrackingStore } from "../tracking/index.js";
import { LoggedModelStore, type LoggedModelRow } from "./logged-models-store.js";

describeStoreContract("logged model store", (ctx) => {
  let store: LoggedModelStore;
  let experiment: number;
  beforeEach(async () => {
    store = new LoggedModelStore(ctx.db);
    // Logged models belong to experiments (a foreign key): make a second one besides Default.
    experiment = Number(await new TrackingStore(ctx.db).createExperiment("other", (id) => `mlflow-artifacts:/${id}`, undefined, [], 0));
    seq = 0;
  });

  let seq = 0;
  const make = async (over: Partial<LoggedModelRow> = {}, params = [{ key: "alpha", value: "0.5" }], tags = [{ key: "team", value: "a" }]): Promise<string> => {
    const id = `m-${(++seq).toString(16).padStart(32, "0")}`;
    await store.create(
      {
        model_id: id,
        experiment_id: 0,
        name: `model-${seq}`,
        artifact_location: `mlflow-artifacts:/0/models/${id}/artifacts`,
        creation_timestamp_ms: seq * 10,
        last_updated_timestamp_ms: seq * 10,
        status: 1,
        lifecycle_stage: "active",
        model_type: null,
        source_run_id: null,
        status_message: null,
        ...over,
      },
      params,
      tags,
    );
    return id;
  };
  const search = async (experimentIds: number[], filter?: string, order: { field: string; ascending: boolean }[] = [], limit = 100, offset = 0) =>
    (await store.search(store.compileSearch(experimentIds, filter, order), limit, offset)).map((m) => m.info.name);

  it("creates a model with params and tags (the last of a repeated key wins) and reads it back", async () => {
    const id = await make({ name: "clf", model_type: "Classifier", source_run_id: "r1" }, [{ key: "p", value: "1" }, { key: "p", value: "2" }], [{ key: "b", value: "2" }, { key: "a", value: "1" }]);
    expect(await store.get(id)).toEqual({
      info: {
        model_id: id,
        experiment_id: "0",
        name: "clf",
        creation_timestamp_ms: 10 * seq,
        last_updated_timestamp_ms: 10 * seq,
        artifact_uri: `mlflow-artifacts:/0/models/${id}/artifacts`,
        status: "LOGGED_MODEL_PENDING",
        model_type: "Classifier",
        source_run_id: "r1",
        status_message: undefined,
        tags: [{ key: "a", value: "1" }, { key: "b", value: "2" }],
        registrations: [],
      },
      data: { params: [{ key: "p", value: "2" }], metrics: [] },
    });
    expect(await store.row(id)).toMatchObject({ model_id: id, lifecycle_stage: "active", source_run_id: "r1" });
    expect(await store.get("m-unknown")).toBeUndefined();
    expect(await store.row("m-unknown")).toBeUndefined();
  });

  it("finalizes, tags, logs params, and deletes softly", async () => {
    const id = await make();
    await store.finalize(id, "LOGGED_MODEL_READY", 500);
    expect((await store.get(id))!.info).toMatchObject({ status: "LOGGED_MODEL_READY", last_updated_timestamp_ms: 500 });
    await store.setTags(id, [{ key: "team", value: "b" }, { key: "new", value: "x" }], 600);
    expect((await store.get(id))!.info).toMatchObject({ tags: [{ key: "new", value: "x" }, { key: "team", value: "b" }], last_updated_timestamp_ms: 600 });
    expect(await store.deleteTag(id, "new")).toBe(true);
    expect(await store.deleteTag(id, "new")).toBe(false);
    await store.logParams(id, [{ key: "alpha", value: "0.7" }, { key: "beta", value: "1" }]);
    expect((await store.get(id))!.data.params).toEqual([{ key: "alpha", value: "0.7" }, { key: "beta", value: "1" }]);

    await store.delete(id, 700);
    expect(await store.row(id)).toBeUndefined();
    expect(await store.get(id)).toBeUndefined();
    expect((await store.get(id, true))!.info).toMatchObject({ model_id: id, last_updated_timestamp_ms: 700 });
    expect(await store.row(id, true)).toMatchObject({ lifecycle_stage: "deleted" });
  });

  it("keeps a model whose creation failed half-way out of the store", async () => {
    const id = `m-${"f".repeat(32)}`;
    const row: LoggedModelRow = {
      model_id: id,
      experiment_id: 0,
      name: "half",
      artifact_location: "x",
      creation_timestamp_ms: 1,
      last_updated_timestamp_ms: 1,
      status: 1,
      lifecycle_stage: "active",
      model_type: null,
      source_run_id: null,
      status_message: null,
    };
    // A param value of NULL violates NOT NULL after the model row was written: the whole create rolls back.
    await expect(store.create(row, [{ key: "p", value: null as unknown as string }], [])).rejects.toThrow();
    expect(await store.row(id, true)).toBeUndefined();
  });

  it("searches within experiments by attributes, tags and params, with order and pages, hiding deleted models", async () => {
    await make({ name: "a-clf", model_type: "Classifier", source_run_id: "r1" }, [{ key: "alpha", value: "0.1" }], [{ key: "team", value: "x" }]);
    const b = await make({ name: "b-reg", model_type: "Regressor", status: 2 }, [{ key: "alpha", value: "0.2" }], []);
    await make({ name: "c-clf", model_type: "Classifier" }, [], [{ key: "team", value: "y" }]);
    const gone = await make({ name: "d-gone" });
    await store.delete(gone, 1);
    await make({ name: "e-other", experiment_id: experiment });

    expect(await search([0])).toEqual(["c-clf", "b-reg", "a-clf"]);
    expect(await search([0, experiment])).toEqual(["e-other", "c-clf", "b-reg", "a-clf"]);
    expect(await search([experiment])).toEqual(["e-other"]);
    expect(await search([0], "name LIKE '%clf'")).toEqual(["c-clf", "a-clf"]);
    expect(await search([0], "name LIKE '%CLF'")).toEqual([]);
    expect(await search([0], "name ILIKE '%CLF'")).toEqual(["c-clf", "a-clf"]);
    expect(await search([0], "model_type = 'Regressor'")).toEqual(["b-reg"]);
    expect(await search([0], "source_run_id = 'r1'")).toEqual(["a-clf"]);
    expect(await search([0], "status = 'READY'")).toEqual(["b-reg"]);
    expect(await search([0], "status != 'LOGGED_MODEL_READY'")).toEqual(["c-clf", "a-clf"]);
    expect(await search([0], "creation_timestamp > 15")).toEqual(["c-clf", "b-reg"]);
    expect(await search([0], "tags.team = 'x'")).toEqual(["a-clf"]);
    expect(await search([0], "tags.team != 'x'")).toEqual(["c-clf", "b-reg"]);
    expect(await search([0], "params.alpha = '0.2'")).toEqual(["b-reg"]);
    expect(await search([0], "params.alpha IN ('0.1', '0.2') AND model_type = 'Classifier'")).toEqual(["a-clf"]);
    expect(await search([0], undefined, [{ field: "name", ascending: true }])).toEqual(["a-clf", "b-reg", "c-clf"]);
    expect(await search([0], undefined, [{ field: "attributes.creation_timestamp", ascending: true }])).toEqual(["a-clf", "b-reg", "c-clf"]);
    expect(await search([0], undefined, [{ field: "model_type", ascending: false }, { field: "name", ascending: false }])).toEqual(["b-reg", "c-clf", "a-clf"]);
    expect([...(await search([0], undefined, [], 2, 0)), ...(await search([0], undefined, [], 2, 2))]).toEqual(["c-clf", "b-reg", "a-clf"]);
    expect((await store.search(store.compileSearch([0], `model_id = '${b}'`, []), 10, 0)).map((m) => m.info.model_id)).toEqual([b]);

    await expectMlflowError(search([0], "metrics.acc > 1"), "INVALID_PARAMETER_VALUE", "Filtering logged models on metrics is not supported");
    await expectMlflowError(search([0], "bogus = 'x'"), "INVALID_PARAMETER_VALUE", "Invalid attribute key 'bogus'");
    await expectMlflowError(search([0], "status = 'SHINY'"), "INVALID_PARAMETER_VALUE", "Invalid status filter 'SHINY'");
    await expectMlflowError(search([0], "creation_timestamp > 'soon'"), "INVALID_PARAMETER_VALUE", "expected a numeric value");
    await expectMlflowError(search([0], undefined, [{ field: "bogus", ascending: true }]), "INVALID_PARAMETER_VALUE", "Invalid order_by field 'bogus'");
  });
});
