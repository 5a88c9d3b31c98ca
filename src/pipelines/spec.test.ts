import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildGraph, selectStages } from "./dag.js";
import { pythonFloat, pythonJson, runCacheKey } from "./lock.js";
import { getKey, parseYamlForInterpolation } from "./params.js";
import { loadPipeline } from "./spec.js";

function repo(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-spec-"));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

describe("dvc.yaml", () => {
  it("keeps floats as Python prints them for interpolation", () => {
    expect(parseYamlForInterpolation("a: 1.0\nb: 1e-5\nc: 0.5\nd: 3\ne: 1.50\nf: 100000000000000000.0\ng: [1.0, 2]\nh: '1.0'\n")).toEqual({ a: "1.0", b: "1e-05", c: "0.5", d: 3, e: "1.5", f: "1e+17", g: ["1.0", 2], h: "1.0" });
  });

  it("expands foreach over lists and dictionaries, matrix, vars files with keys, stage vars and escapes", () => {
    const dir = repo({
      "params.yaml": "lr: 1.0\nmodels:\n  us: {n: 1}\n  eu: {n: 2}\n",
      "extra.yaml": "a:\n  b: 5\nignored: 1\n",
      "dvc.yaml": `vars:
  - extra.yaml:a
  - flag: true
stages:
  list:
    foreach: [x, 2]
    do:
      cmd: echo \${item} \${lr} \${flag} \\\${literal}
  dict:
    foreach: \${models}
    do:
      cmd: train --region \${key} --n \${item.n}
      outs: ["model-\${key}.bin"]
  objs:
    foreach: [{p: 1}, {p: 2}]
    do:
      cmd: echo \${item.p}
  grid:
    matrix:
      opt: [adam, sgd]
      lr: [0.1, 1.0]
    cmd: fit --opt \${item.opt} --lr \${item.lr} --b \${a.b}
  local:
    vars:
      - who: me
    cmd: echo \${who}
    wdir: sub
    deps: [../data]
    params: [lr, {../extra.yaml: [a.b]}]
`,
    });
    const p = loadPipeline(dir);
    expect(p.stages.map((s) => s.name)).toEqual(["list@x", "list@2", "dict@us", "dict@eu", "objs@0", "objs@1", "grid@adam-0.1", "grid@adam-1.0", "grid@sgd-0.1", "grid@sgd-1.0", "local"]);
    expect(p.stages[0]!.cmd).toBe("echo x 1.0 true ${literal}");
    expect(p.stages[2]).toMatchObject({ cmd: "train --region us --n 1", outs: [{ path: "model-us.bin", rel: "model-us.bin", cache: true, persist: false }] });
    expect(p.stages[7]!.cmd).toBe("fit --opt adam --lr 1.0 --b 5");
    const local = p.stages[10]!;
    expect(local).toMatchObject({ cmd: "echo me", wdir: "sub", deps: [{ path: "../data", rel: "data" }] });
    expect(local.params).toEqual([{ file: "params.yaml", rel: "sub/params.yaml", keys: ["lr"] }, { file: "../extra.yaml", rel: "extra.yaml", keys: ["a.b"] }]);
  });

  it("builds the graph through outputs, folders and params files, and finds cycles", () => {
    const dir = repo({
      "dvc.yaml": `stages:
  a: {cmd: x, outs: [data/feat]}
  b: {cmd: x, deps: [data/feat/part.csv], outs: [model]}
  c: {cmd: x, deps: [data], outs: [report]}
  p: {cmd: x, outs: [gen.yaml]}
  q: {cmd: x, params: [{gen.yaml: [k]}], outs: [q.txt]}
`,
    });
    const g = buildGraph(loadPipeline(dir));
    expect([...g.upstream.get("b")!]).toEqual(["a"]);
    expect([...g.upstream.get("c")!]).toEqual(["a"]);
    expect([...g.upstream.get("q")!]).toEqual(["p"]);
    expect(selectStages(g, { targets: ["a"], downstream: true })).toEqual(["a", "b", "c"]);
    expect(selectStages(g, { targets: ["b"] })).toEqual(["a", "b"]);
    const cyc = repo({ "dvc.yaml": "stages:\n  a: {cmd: x, deps: [b.txt], outs: [a.txt]}\n  b: {cmd: x, deps: [a.txt], outs: [b.txt]}\n" });
    expect(() => buildGraph(loadPipeline(cyc))).toThrow("dvc.yaml: the pipeline has a cycle through stages 'a', 'b'");
    const dup = repo({ "dvc.yaml": "stages:\n  a: {cmd: x, outs: [o]}\n  b: {cmd: x, outs: [o]}\n" });
    expect(() => buildGraph(loadPipeline(dup))).toThrow("output 'o' is specified in stages 'a' and 'b'");
  });

  it("names the file, the stage and the field in errors", () => {
    const bad = (yaml: string) => () => loadPipeline(repo({ "dvc.yaml": yaml }));
    expect(bad("stages:\n  t:\n    deps: [a]\n")).toThrow("dvc.yaml: stage 't': 'cmd' is required");
    expect(bad("stages:\n  t:\n    cmd: x\n    outs: [{a: {cache: maybe}}]\n")).toThrow("dvc.yaml: stage 't': 'outs' entry 'a': 'cache' must be true or false");
    expect(bad("stages:\n  t:\n    cmd: x\n    frozen: 1\n")).toThrow("dvc.yaml: stage 't': 'frozen' must be true or false");
    expect(bad("stages:\n  t:\n    foreach: 3\n    do: {cmd: x}\n")).toThrow("dvc.yaml: stage 't': 'foreach' must be a list");
    expect(bad("stages:\n  t:\n    cmd: x\n  t2: [1]\n")).toThrow("dvc.yaml: stage 't2': must be a dictionary");
    expect(bad("stage:\n  t: {cmd: x}\n")).toThrow("dvc.yaml: 'stage' is not a dvc.yaml section");
    expect(bad("stages: [\n")).toThrow("dvc.yaml is not valid YAML");
  });
});

describe("dvc.lock and the run cache", () => {
  it("writes Python's json.dumps floats and keys the run cache as DVC does", () => {
    expect([0.1, 1e-5, 1e16, 1.5e-7, 123.456, 3, -0.25].map(pythonFloat)).toEqual(["0.1", "1e-05", "1e+16", "1.5e-07", "123.456", "3", "-0.25"]);
    expect(pythonJson({ b: [1, "é"], a: null, c: true })).toBe('{"a": null, "b": [1, "\\u00e9"], "c": true}');
    // the key dvc 3.67.1 computed for this stage (see test/pipelines/repro.test.ts for the end-to-end check)
    expect(
      runCacheKey({
        cmd: "mkdir -p out && cp data/raw.csv out/a.csv && echo world > out/b.txt",
        deps: [{ path: "data/raw.csv", hash: "md5", md5: "f69f5b72bc79a92dc70c63c9aa142e36", size: 4 }],
        params: { "params.yaml": { "prep.seed": 1 } },
        outs: [{ path: "out", hash: "md5", md5: "939c7041bcee18e8fc04f84731bec7f7.dir", size: 10, nfiles: 2 }],
      }),
    ).toBe("48a28cfd7277e4083e78efeb5cddc18e4c492fa2225a86b63ef720e8d1517db5");
  });

  it("looks dotted keys up as DVC does", () => {
    expect(getKey({ train: { lr: 1 } }, "train.lr")).toEqual({ found: true, value: 1 });
    expect(getKey({ "train.lr": 2, train: { lr: 1 } }, "train.lr")).toEqual({ found: true, value: 2 });
    expect(getKey({ layers: [4, 8] }, "layers.1")).toEqual({ found: true, value: 8 });
    expect(getKey({ a: 1 }, "b")).toEqual({ found: false });
  });
});
