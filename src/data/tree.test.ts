import { describe, expect, it } from "vitest";
import { buildTree, compareCodePoints, parseTree, pythonJsonString } from "./tree.js";

describe("folder manifests", () => {
  // Both hashes below are what dvc 3.67.1 wrote for these folders (see test/dvc for the live check).
  it("hashes a folder exactly as dvc does, sorting 'a-b' before 'a/b' (by string, not by path parts)", () => {
    const tree = buildTree([
      { relpath: "x.txt", md5: "764efa883dda1e11db47671c4a3bbd9e" },
      { relpath: "sub/z.bin", md5: "a8a78d0ff555c931f045b6f448129846" },
      { relpath: "sub/y", md5: "1b385affd7adb5a6283fef292b5df0f7" },
      { relpath: "empty", md5: "d41d8cd98f00b204e9800998ecf8427e" },
      { relpath: "a-b", md5: "7694f4a66316e53c8cdd9d9954bd611d" },
    ]);
    expect(tree.md5).toBe("c72c0d2bcf8952b805fddb3942a80be7.dir");
    expect(tree.bytes.toString()).toMatch(/^\[\{"md5": "7694f4a66316e53c8cdd9d9954bd611d", "relpath": "a-b"\}, \{"md5": /);
  });

  it("escapes non-ASCII names and orders them by code point, as Python does", () => {
    const tree = buildTree([
      { relpath: "😀", md5: "6d7fce9fee471194aa8b5b6e47267f03" },
      { relpath: "ｚ", md5: "1dcca23355272056f04fe8bf20edfce0" },
      { relpath: "é", md5: "9dd4e461268c8034f5c8564e155c67a6" },
      { relpath: "a/b", md5: "b026324c6904b2a9cb4b88d6d61c81d1" },
      { relpath: "a-b", md5: "26ab0db90d72e28ad0ba1e22ee510510" },
      { relpath: "Z", md5: "48a24b70a0b376535542b996af517398" },
    ]);
    expect(tree.md5).toBe("a5c91610b959169664b4c454d79e9dca.dir");
    expect(tree.entries.map((e) => e.relpath)).toEqual(["Z", "a-b", "a/b", "é", "ｚ", "😀"]);
    expect(tree.bytes.toString()).toContain('"relpath": "\\ud83d\\ude00"');
  });

  it("writes strings as json.dumps does", () => {
    expect(pythonJsonString('a"b\\c\n\t\u0001\u007f')).toBe('"a\\"b\\\\c\\n\\t\\u0001\\u007f"');
    expect(compareCodePoints("\uffff", "😀")).toBeLessThan(0);
    expect(compareCodePoints("a", "ab")).toBeLessThan(0);
  });

  it("reads manifests back and refuses unsafe or malformed entries, naming the manifest", () => {
    const t = buildTree([{ relpath: "d/f", md5: "d41d8cd98f00b204e9800998ecf8427e" }]);
    expect(parseTree(t.bytes, "x")).toEqual([{ relpath: "d/f", md5: "d41d8cd98f00b204e9800998ecf8427e" }]);
    expect(() => parseTree(Buffer.from('[{"md5": "d41d8cd98f00b204e9800998ecf8427e", "relpath": "../etc/passwd"}]'), "m1")).toThrow(/m1 has an unsafe path/);
    expect(() => parseTree(Buffer.from("{"), "m2")).toThrow(/m2 is not valid JSON/);
    expect(() => parseTree(Buffer.from('[{"md5": "nope", "relpath": "a"}]'), "m3")).toThrow(/m3/);
  });
});
