import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readCsv, readTable } from "./files.js";
import { buildProfile } from "./profile.js";
import { distOf, foldSorted, sortFloat64 } from "./stats.js";
import { normal, rng } from "./testdata/random.js";

describe("the CSV reader", () => {
  it("reads numbers, text, quotes, missing values, CRLF, a BOM, short rows and an empty last field", () => {
    const text = '\ufeffa,b,"c ""q"""\r\n1.5,x,3\r\n-2e3,"y, z",\r\n  7 ,NA,1e400\r\n,x\r\n0.000001,"multi\nline",12345678901234567890\r\n';
    const t = readCsv(Buffer.from(text));
    expect(t.columns).toEqual(["a", "b", 'c "q"']);
    expect(t.rows).toBe(5);
    expect([...t.data[0]!.values()]).toEqual([1.5, -2000, 7, NaN, 0.000001]);
    expect(t.data[0]!.missing).toBe(1);
    expect(Object.fromEntries(t.data[1]!.text)).toEqual({ x: 2, "y, z": 1, "multi\nline": 1 });
    expect(t.data[1]!.missing).toBe(1);
    const c = t.data[2]!;
    expect([...c.values()]).toEqual([3, NaN, NaN, NaN, 12345678901234567890]);
    expect(c.missing).toBe(3); // empty, 1e400 (not finite), the short row
  });

  it("parses decimals exactly as Number does", () => {
    const r = rng(9);
    const xs = Array.from({ length: 2000 }, () => (normal(r) * 10 ** Math.floor(r() * 8 - 4)).toPrecision(1 + Math.floor(r() * 15)));
    const t = readCsv(Buffer.from("x\n" + xs.join("\n") + "\n"));
    expect([...t.data[0]!.values()]).toEqual(xs.map(Number));
  });

  it("refuses a row with too many fields and a duplicate header, with the row named", () => {
    expect(() => readCsv(Buffer.from("a,b\n1,2,3\n"))).toThrow(/row 2 has more fields/);
    expect(() => readCsv(Buffer.from("a,a\n1,2\n"))).toThrow(/twice/);
    expect(() => readCsv(Buffer.from(""))).toThrow(/empty/);
  });

  it("infers kinds as Evidently does: text and small-cardinality integers are categorical", () => {
    const rows = Array.from({ length: 100 }, (_, i) => `${i % 3},${i},${i / 7},${["u", "v"][i % 2]}`);
    const p = buildProfile(readCsv(Buffer.from("small_int,big_int,float,text\n" + rows.join("\n"))));
    expect([...p.columns].map(([k, c]) => [k, c.kind])).toEqual([
      ["small_int", "categorical"],
      ["big_int", "numerical"],
      ["float", "numerical"],
      ["text", "categorical"],
    ]);
  });
});

const PYTHON = path.resolve(import.meta.dirname, "../../.venv/bin/python");

describe.skipIf(!fs.existsSync(PYTHON))("Parquet (written by pyarrow from the compat venv)", () => {
  it("reads floats, int64, text, booleans and nulls across row groups", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-parquet-"));
    const file = path.join(dir, "t.parquet");
    const script = `
import pyarrow as pa, pyarrow.parquet as pq, sys
n = 2500
t = pa.table({
  "x": pa.array([i / 4 if i % 10 else None for i in range(n)], pa.float64()),
  "k": pa.array([i * 3 for i in range(n)], pa.int64()),
  "c": pa.array([["red", "green", None][i % 3] for i in range(n)], pa.string()),
  "b": pa.array([i % 2 == 0 for i in range(n)], pa.bool_()),
})
pq.write_table(t, sys.argv[1], row_group_size=1000)
`;
    execFileSync(PYTHON, ["-c", script, file]);
    const t = await readTable(file);
    expect(t.columns).toEqual(["x", "k", "c", "b"]);
    expect(t.rows).toBe(2500);
    const x = t.data[0]!.values();
    expect(x[1]).toBe(0.25);
    expect(Number.isNaN(x[10]!)).toBe(true);
    expect(t.data[0]!.missing).toBe(250);
    expect(t.data[1]!.values()[2499]).toBe(7497);
    expect(Object.fromEntries(t.data[2]!.text)).toEqual({ red: 834, green: 833 });
    expect(t.data[2]!.missing).toBe(833);
    expect(Object.fromEntries(t.data[3]!.text)).toEqual({ True: 1250, False: 1250 });
    fs.rmSync(dir, { recursive: true, force: true });
    await expect(readTable(path.join(dir, "missing.parquet"))).rejects.toThrow(/No such file/);
  });
});

describe("the radix sort", () => {
  it("orders doubles as the built-in sort does: negatives, zeros, subnormals, huge values, ties", () => {
    const r = rng(11);
    const xs = new Float64Array(50_000);
    for (let i = 0; i < xs.length; i++) {
      const k = r();
      xs[i] = k < 0.1 ? 0 : k < 0.2 ? 5e-324 * Math.floor(r() * 10) : k < 0.3 ? -Math.floor(r() * 5) : normal(r) * 10 ** Math.floor(r() * 600 - 300);
    }
    const want = Float64Array.from(xs).sort();
    sortFloat64(xs);
    expect(xs).toEqual(want);
  });
});

describe("distributions of numbers", () => {
  const reference = (xs: number[]) => foldSorted(Float64Array.from(xs.filter(Number.isFinite).map((x) => (x === 0 ? 0 : x))).sort());
  it("decimal data (counted on scaled integers) folds to the same values and counts as sorting does", () => {
    const r = rng(5);
    const cases: number[][] = [
      Array.from({ length: 20_000 }, () => Math.round(normal(r, 3, 2) * 1e4) / 1e4), // four decimals
      Array.from({ length: 20_000 }, () => Math.round(normal(r, -50, 10)) * (r() < 0.01 ? NaN : 1)), // integers with missing values
      Array.from({ length: 20_000 }, (_, i) => (i % 3 === 0 ? -0 : Math.round(normal(r) * 100) / 100)), // -0 and 0, two decimals
      Array.from({ length: 20_000 }, (_, i) => (i === 15_000 ? 0.123456789 : Math.round(normal(r) * 10) / 10)), // one value with more decimals, late: sorted instead
      Array.from({ length: 20_000 }, () => normal(r) * 1e6), // full precision: sorted
      Array.from({ length: 20_000 }, (_, i) => (i === 5 ? 1e15 : Math.round(r() * 100))), // range too wide: sorted
      Array.from({ length: 20_000 }, (_, i) => (i % 2 ? Infinity : Math.round(r() * 1000) / 8)),
    ];
    for (const xs of cases) {
      const got = distOf(xs);
      const want = reference(xs);
      expect(got.n).toBe(want.n);
      expect(got.values).toEqual(want.values);
      expect(got.counts).toEqual(want.counts);
      expect([...got.values].some((x) => Object.is(x, -0))).toBe(false);
    }
  });
});
