import { describe, expect, it } from "vitest";
import { dumps, floatRepr, loads, PyDict, PyFloat, PyInt } from "./py-json.js";

describe("Python-compatible JSON", () => {
  it("writes floats as Python's json.dumps does", () => {
    // Expected strings are what CPython 3.11 prints for json.dumps(x).
    const cases: [number, string][] = [
      [1e-5, "1e-05"],
      [1e16, "1e+16"],
      [123456789012345678, "1.2345678901234568e+17"],
      [0.1, "0.1"],
      [100, "100.0"],
      [-0, "-0.0"],
      [1.5e300, "1.5e+300"],
      [1e21, "1e+21"],
      [NaN, "NaN"],
      [-Infinity, "-Infinity"],
    ];
    for (const [x, want] of cases) expect(floatRepr(x)).toBe(want);
  });

  it("round-trips ints (all 64 bits), floats, key order and escapes", () => {
    const text = '{"b": [1, 2.0, null, true, "é\\n\\u0001"], "a": {"2": 1, "1": 12345678901234567890}}';
    const v = loads(text);
    expect(v).toBeInstanceOf(PyDict);
    const d = v as PyDict;
    expect(d.entries.map(([k]) => k)).toEqual(["b", "a"]);
    const list = d.get("b") as unknown[];
    expect(list[0]).toBeInstanceOf(PyInt);
    expect(list[1]).toBeInstanceOf(PyFloat);
    expect(((d.get("a") as PyDict).get("1") as PyInt).digits).toBe("12345678901234567890");
    expect(dumps(v)).toBe(text);
    expect(dumps(loads("[NaN, Infinity]"))).toBe("[NaN, Infinity]");
  });

  it("refuses text that is not JSON", () => {
    for (const bad of ["{", "[1,]", "tru", '"x" y', "{'a': 1}"]) expect(() => loads(bad)).toThrow(SyntaxError);
  });
});
