import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { buildCommand, getEntryPoint, loadProject, parseParamList, ProjectError, pythonFloatString, resolveParameters, shellQuote } from "./spec.js";
import { isGitUrl, parseSubdirectory, stripCredentials } from "./git.js";

const dirs: string[] = [];
function project(mlproject: string | undefined, files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-spec-"));
  dirs.push(dir);
  if (mlproject !== undefined) fs.writeFileSync(path.join(dir, "MLproject"), mlproject);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const MLPROJECT = `
name: demo
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 1.0}
      l1: {type: float, default: 0.1}
      n: int
      epochs: {type: int, default: 10}
      name: {type: string, default: "hello world"}
      data: {type: uri, default: "s3://bucket/data.csv"}
    command: "python train.py --alpha {alpha} --l1 {l1} --n {n} --epochs {epochs} --name {name} --data {data}"
  braces:
    parameters: {x: string}
    command: "echo {{literal}} {x}"
`;

describe("MLproject parsing", () => {
  it("reads entry points with typed, defaulted and required parameters", () => {
    const p = loadProject(project(MLPROJECT));
    expect(p.name).toBe("demo");
    expect(p.envType).toBe("none");
    const ep = getEntryPoint(p, "main");
    expect(ep.parameters).toEqual([
      { name: "alpha", type: "float", default: "1.0" },
      { name: "l1", type: "float", default: "0.1" },
      { name: "n", type: "int", default: undefined },
      { name: "epochs", type: "int", default: "10" },
      { name: "name", type: "string", default: "hello world" },
      { name: "data", type: "uri", default: "s3://bucket/data.csv" },
    ]);
  });

  it("substitutes shell-quoted values and appends undeclared parameters as --key value", () => {
    const ep = getEntryPoint(loadProject(project(MLPROJECT)), "main");
    const resolved = resolveParameters(ep, [["n", "3"], ["name", "it's; rm -rf /"], ["extra flag", "a b"], ["seed", "7"]]);
    expect(resolved.params).toEqual([["alpha", "1.0"], ["l1", "0.1"], ["n", "3"], ["epochs", "10"], ["name", "it's; rm -rf /"], ["data", "s3://bucket/data.csv"]]);
    expect(resolved.extra).toEqual([["extra flag", "a b"], ["seed", "7"]]);
    expect(buildCommand(ep, resolved)).toBe(
      `python train.py --alpha 1.0 --l1 0.1 --n 3 --epochs 10 --name 'it'"'"'s; rm -rf /' --data s3://bucket/data.csv --'extra flag' 'a b' --seed 7`,
    );
  });

  it("keeps {{ and }} as literal braces", () => {
    const ep = getEntryPoint(loadProject(project(MLPROJECT)), "braces");
    expect(buildCommand(ep, resolveParameters(ep, [["x", "1"]]))).toBe("echo {literal} 1");
  });

  it("reports every missing or badly typed parameter in one error", () => {
    const ep = getEntryPoint(loadProject(project(MLPROJECT)), "main");
    expect(() => resolveParameters(ep, [])).toThrow(/required parameter 'n'/);
    const err = (() => {
      try {
        resolveParameters(ep, [["n", "1.5"], ["alpha", "fast"], ["data", "not a uri"]]);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(ProjectError);
    expect(err?.message).toMatch(/'alpha' must be a float, got 'fast'/);
    expect(err?.message).toMatch(/'n' must be an int, got '1.5'/);
    expect(err?.message).toMatch(/'data' must be a URI/);
    expect(() => resolveParameters(ep, [["n", "-4"], ["alpha", "1e-3"]])).not.toThrow();
  });

  it("runs .py and .sh files of a project without an MLproject file", () => {
    const p = loadProject(project(undefined));
    expect(getEntryPoint(p, "train.py").command).toBe("python train.py");
    expect(getEntryPoint(p, "my script.sh", "/bin/zsh").command).toBe("/bin/zsh 'my script.sh'");
    expect(() => getEntryPoint(p, "main")).toThrow(/Could not find entry point 'main'/);
    const ep = getEntryPoint(p, "train.py");
    expect(buildCommand(ep, resolveParameters(ep, [["lr", "0.1"]]))).toBe("python train.py --lr 0.1");
  });

  it("finds python_env.yaml and conda.yaml, and refuses two environments", () => {
    expect(loadProject(project("python_env: env.yaml\n", { "env.yaml": "python: '3.11'\n" })).envType).toBe("python_env");
    expect(loadProject(project(undefined, { "python_env.yaml": "python: '3.11'\n" })).envType).toBe("python_env");
    expect(loadProject(project(undefined, { "conda.yaml": "name: x\n" })).envType).toBe("conda_env");
    expect(() => loadProject(project("python_env: missing.yaml\n"))).toThrow(/no such file/);
    expect(() => loadProject(project("python_env: a.yaml\nconda_env: b.yaml\n"))).toThrow(/multiple environment fields/);
    expect(() => loadProject(project("entry_points: [1, 2]\n"))).toThrow(/must be a mapping/);
    expect(() => loadProject(project("a: [\n"))).toThrow(/not valid YAML/);
  });

  it("parses -P lists", () => {
    expect(parseParamList(["a=1", "b=x=y", "c="])).toEqual([["a", "1"], ["b", "x=y"], ["c", ""]]);
    expect(() => parseParamList(["novalue"])).toThrow(/Use -P name=value/);
    expect(() => parseParamList(["a=1", "a=2"])).toThrow(/Repeated parameter: 'a'/);
  });
});

describe("helpers", () => {
  it("quotes like shlex.quote", () => {
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("abc-1.2/x:y@z%+=,")).toBe("abc-1.2/x:y@z%+=,");
    expect(shellQuote("a b")).toBe("'a b'");
    expect(shellQuote("$(id)")).toBe("'$(id)'");
    expect(shellQuote("é")).toBe("'é'");
  });

  it("prints floats as Python's str()", () => {
    expect(pythonFloatString(1)).toBe("1.0");
    expect(pythonFloatString(0.1)).toBe("0.1");
    expect(pythonFloatString(1e-5)).toBe("1e-05");
    expect(pythonFloatString(0.0001)).toBe("0.0001");
    expect(pythonFloatString(1e16)).toBe("1e+16");
    expect(pythonFloatString(123456.5)).toBe("123456.5");
    expect(pythonFloatString(-2.5e-7)).toBe("-2.5e-07");
  });

  it("recognises git URLs and #subdirectories, and strips credentials", () => {
    for (const u of ["https://github.com/a/b.git", "ssh://git@host/a/b", "git@github.com:a/b.git", "file:///tmp/repo"]) expect(isGitUrl(u)).toBe(true);
    for (const u of [".", "examples/x", "/abs/path", "C:/x"]) expect(isGitUrl(u)).toBe(false);
    expect(parseSubdirectory("https://h/r.git#sub/dir")).toEqual({ base: "https://h/r.git", subdir: "sub/dir" });
    expect(() => parseSubdirectory("repo#../up")).toThrow(ProjectError);
    expect(stripCredentials("https://user:tok@github.com/a/b.git")).toBe("https://github.com/a/b.git");
    expect(stripCredentials("git@github.com:a/b.git")).toBe("git@github.com:a/b.git");
  });
});
