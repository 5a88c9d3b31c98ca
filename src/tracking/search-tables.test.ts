import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MlflowError } from "../errors.js";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";
import { likeToGlob, parseFilter as parse, parseOrderBy as parseOrder, tokenize } from "../search/index.js";
import { compileExperimentQuery, compileRunSearch, RUN_SEARCH } from "./search-tables.js";

const parseFilter = (f: string) => parse(f, RUN_SEARCH.prefixes);
const parseOrderBy = (o: string) => parseOrder(o, RUN_SEARCH.prefixes);

/** Runs `fn`; passes when it returns or throws an INVALID_PARAMETER_VALUE MlflowError, fails on anything else. */
function parsesOrRefuses(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof MlflowError && err.errorCode === "INVALID_PARAMETER_VALUE") return true;
    throw err;
  }
}

const FRAGMENTS = [
  "metrics.", "params.", "tags.", "attributes.", "attr.", "run.", "datasets.", "dataset.", "acc", "lr", "`my key`", '"x y"',
  " = ", " != ", " > ", " >= ", " < ", " <= ", " LIKE ", " ILIKE ", " IN ", " NOT IN ", " IS NULL", " IS NOT NULL", " and ", " AND ", " or ",
  "'a'", "'%b%'", '"c"', "0.5", "-1", "1e3", "(", ")", ",", "('x', 'y')", "status", "run_name", "start_time", "name", "context",
  "'", '"', "`", ".", " ", "\\", "''", "NULL", "NOT", "IS",
];
const filterLike = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 12 }).map((parts) => parts.join(""));

describe("search language: tokens and clauses", () => {
  it("reads identifiers in every quoting style and entity alias", () => {
    const clauses = parseFilter("metrics.acc > 0.5 and params.lr = '0.1' and tags.\"my tag\" LIKE '%a%' and tags.`b c` != \"d\" and attr.status IN ('FINISHED','RUNNING') and run_name ILIKE 'a%' and metrics.val.loss <= -1e-3");
    expect(clauses.map((c) => [c.identifier.entity, c.identifier.key, c.comparator])).toEqual([
      ["metric", "acc", ">"],
      ["param", "lr", "="],
      ["tag", "my tag", "LIKE"],
      ["tag", "b c", "!="],
      ["attribute", "status", "IN"],
      ["attribute", "run_name", "ILIKE"],
      ["metric", "val.loss", "<="],
    ]);
    expect(clauses[4]!.value).toMatchObject({ kind: "list", values: ["FINISHED", "RUNNING"] });
    expect(clauses[6]!.value).toMatchObject({ kind: "number", value: -0.001 });
  });

  it("reads IS NULL, NOT IN and escaped quotes", () => {
    const [a, b, c] = parseFilter("tags.x IS NOT NULL AND run_id NOT IN ('a') AND params.p = 'it''s'");
    expect(a!.comparator).toBe("IS NOT NULL");
    expect(b!.comparator).toBe("NOT IN");
    expect(c!.value).toMatchObject({ kind: "string", value: "it's" });
  });

  it("points at the position of the problem", () => {
    expect(() => tokenize("metrics.a > 1 # 2")).toThrow(/position 14/);
    expect(() => parseFilter("metrics.a > 1 and")).toThrow(/at the end/);
    expect(() => parseFilter("metrics.a 1")).toThrow(/position 10 \(near '1'\)/);
  });

  it("parses order_by clauses", () => {
    expect(parseOrderBy("metrics.`val acc` DESC")).toMatchObject({ identifier: { entity: "metric", key: "val acc" }, ascending: false });
    expect(parseOrderBy("start_time")).toMatchObject({ identifier: { entity: "attribute", key: "start_time" }, ascending: true });
    expect(() => parseOrderBy("metrics.a DESC extra")).toThrow(MlflowError);
  });

  it("never puts user text into SQL: values and keys are bound parameters", () => {
    const evil = "x'); DROP TABLE runs; --";
    const q = compileRunSearch(`params.\`${evil}\` = '${evil.replace(/'/g, "''")}' and tags.a LIKE '${evil.replace(/'/g, "''")}'`, [`tags.\`${evil}\` DESC`], "sqlite");
    for (const seg of q.segments) {
      for (const sql of [seg.from, seg.where, seg.order]) expect(sql).not.toContain("DROP");
      expect([...seg.fromParams, ...seg.whereParams]).toContain(evil);
    }
  });

  it("splits a search ordered by a metric into valued, NaN and missing segments", () => {
    const q = compileRunSearch("params.a = 'x'", ["metrics.acc DESC", "params.b"], "sqlite");
    expect(q.segments).toHaveLength(3);
    expect(q.segments[0]!.from).toMatch(/^latest_metrics k0 CROSS JOIN runs r LEFT JOIN params/);
    expect(q.segments[0]!.order).toMatch(/^k0.value DESC, CASE WHEN op1.value IS NULL/);
    expect(q.segments[1]!.where).toContain("k0.is_nan = 1");
    expect(q.segments[2]!.where).toMatch(/^NOT EXISTS/);
    expect(compileRunSearch(undefined, ["tags.t"], "sqlite").segments).toHaveLength(2);
    expect(compileRunSearch(undefined, ["start_time"], "sqlite").segments).toHaveLength(1);
  });

  it("makes LIKE case-sensitive on SQLite through GLOB with GLOB's specials escaped", () => {
    expect(likeToGlob("a%b_c*?[")).toBe("a*b?c[*][?][[]");
    expect(compileRunSearch("params.p LIKE 'A%'", [], "sqlite").segments[0]!.where).toContain("GLOB ?");
    expect(compileRunSearch("params.p LIKE 'A%'", [], "postgres").segments[0]!.where).toContain("LIKE ? ESCAPE ''");
    expect(compileRunSearch("params.p ILIKE 'A%'", [], "postgres").segments[0]!.where).toContain("ILIKE ?");
  });

  it("compiles experiment filters and orders, refusing run-only entities", () => {
    const q = compileExperimentQuery("name LIKE 'a%' and tags.team = 'x' and creation_time > 5", ["name DESC"], "sqlite");
    expect(q.params).toEqual(["a*", "team", "x", 5]);
    expect(q.order).toBe("e.name DESC, e.experiment_id ASC");
    expect(compileExperimentQuery(undefined, undefined, "sqlite").order).toBe("e.creation_time DESC, e.experiment_id ASC");
    expect(() => compileExperimentQuery("metrics.a > 1", [], "sqlite")).toThrow(MlflowError);
    expect(() => compileExperimentQuery(undefined, ["tags.a"], "sqlite")).toThrow(MlflowError);
  });
});

describe("search language: any input parses or is refused with INVALID_PARAMETER_VALUE", () => {
  it("holds for arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => parsesOrRefuses(() => compileRunSearch(s, [s], "sqlite")) && parsesOrRefuses(() => compileExperimentQuery(s, [s], "postgres"))),
      { numRuns: 2000 },
    );
  });

  it("holds for strings built from grammar fragments", () => {
    fc.assert(
      fc.property(filterLike, filterLike, (f, o) => parsesOrRefuses(() => compileRunSearch(f, [o], "sqlite")) && parsesOrRefuses(() => compileRunSearch(f, [o], "postgres"))),
      { numRuns: 3000 },
    );
  });

  it("holds for unicode and control characters", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (s) => parsesOrRefuses(() => compileRunSearch(`tags.x = '${s}' and ${s}`, [], "sqlite"))), { numRuns: 500 });
  });
});

describe("search language over HTTP", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp();
  });
  afterAll(async () => t.close());

  it("answers every filter and order_by with 200 or a 400 MLflow error, never a 500", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(filterLike, fc.string({ maxLength: 40 })), filterLike, async (filter, order) => {
        const r = await t.call("POST", "runs/search", { experiment_ids: ["0"], filter, order_by: [order] });
        if (r.status === 200) return Array.isArray(r.body.runs);
        return r.status === 400 && r.body.error_code === "INVALID_PARAMETER_VALUE" && typeof r.body.message === "string";
      }),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(filterLike, async (filter) => {
        const r = await t.call("GET", `experiments/search?filter=${encodeURIComponent(filter)}`);
        return r.status === 200 || (r.status === 400 && r.body.error_code === "INVALID_PARAMETER_VALUE");
      }),
      { numRuns: 200 },
    );
  });
});
