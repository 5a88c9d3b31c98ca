import { describe, expect, it } from "vitest";
import { readCsv } from "./files.js";
import { buildProfile } from "./profile.js";
import { sortFloat64 } from "./stats.js";
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
