import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DataRepo } from "./index.js";

function scratch(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "mloop-data-"));
}

/** A git + DVC repository with a file and a folder of nested files. */
function makeRepo(): { dir: string; repo: DataRepo } {
  const dir = scratch();
  execFileSync("git", ["init", "-q"], { cwd: dir });
  const repo = DataRepo.init(dir);
  fs.mkdirSync(path.join(dir, "data", "sub"), { recursive: true });
  fs.writeFileSync(path.join(dir, "data", "a.csv"), "x,y\r\n1,2\r\n");
  fs.writeFileSync(path.join(dir, "data", "empty"), "");
  fs.writeFileSync(path.join(dir, "data", "sub", "b.bin"), Buffer.from([0, 1, 2, 255]));
  fs.writeFileSync(path.join(dir, "model.txt"), "weights\n");
  return { dir, repo };
}

const read = (p: string) => fs.readFileSync(p);

describe("DataRepo", () => {
  it("adds, reports clean, sees a change, commits it, and checks out an older version", async () => {
    const { dir, repo } = makeRepo();
    const added = await repo.add(["data", "model.txt"], dir);
    expect(added.map((a) => [a.path, a.nfiles])).toEqual([["data", 3], ["model.txt", undefined]]);
    expect(fs.readFileSync(path.join(dir, ".gitignore"), "utf8")).toBe("/data\n/model.txt\n");
    expect(await repo.status()).toEqual([]);
    const v1 = fs.readFileSync(path.join(dir, "data.dvc"), "utf8");

    fs.writeFileSync(path.join(dir, "data", "sub", "b.bin"), "changed");
    fs.writeFileSync(path.join(dir, "data", "new.txt"), "new");
    expect(await repo.status()).toEqual([{ dvcFile: "data.dvc", path: "data", state: "modified" }]);
    await repo.commit(["data"], dir);
    expect(await repo.status()).toEqual([]);
    expect(fs.readFileSync(path.join(dir, "data.dvc"), "utf8")).toMatch(/nfiles: 4/);

    fs.writeFileSync(path.join(dir, "data.dvc"), v1);
    const r = await repo.checkout();
    expect(r.modified).toEqual(["data/sub/b.bin"]);
    expect(r.deleted).toEqual(["data/new.txt"]);
    expect(read(path.join(dir, "data", "sub", "b.bin"))).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(await repo.status()).toEqual([]);
    // nothing was lost: the newer content is still in the cache
    expect([...repo.cache.list()].length).toBeGreaterThanOrEqual(8);
    await repo.close();
  });

  it("pushes to a local remote, and a fresh clone pulls the same bytes; a rerun transfers nothing", async () => {
    const { dir, repo } = makeRepo();
    const remoteDir = path.join(scratch(), "remote");
    repo.addRemote("store", remoteDir, { isDefault: true, cwd: dir });
    await repo.add(["data", "model.txt"], dir);
    const pushed = await repo.push();
    expect(pushed.transferred).toBe(5); // 3 files + the folder's manifest + model.txt
    expect((await repo.push()).transferred).toBe(0);
    expect(await repo.remoteStatus(undefined, undefined)).toEqual([]);

    const clone = scratch();
    for (const f of [".dvc/config", "data.dvc", "model.txt.dvc"]) {
      fs.mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
      fs.copyFileSync(path.join(dir, f), path.join(clone, f));
    }
    const other = DataRepo.open(clone);
    const pulled = await other.pull();
    expect(pulled.transferred).toBe(5);
    for (const f of ["data/a.csv", "data/empty", "data/sub/b.bin", "model.txt"]) expect(read(path.join(clone, f))).toEqual(read(path.join(dir, f)));
    expect(await other.status()).toEqual([]);
    await other.close();
    await repo.close();
  });

  it("an interrupted push (part of the objects up, a staged file left behind) is finished by a rerun", async () => {
    const { dir, repo } = makeRepo();
    const remoteDir = path.join(scratch(), "remote");
    repo.addRemote("store", remoteDir, { isDefault: true, cwd: dir });
    await repo.add(["data"], dir);
    await repo.push();
    const objects = execFileSync("find", [path.join(remoteDir, "files"), "-type", "f"]).toString().trim().split("\n");
    for (const o of objects.slice(0, 2)) fs.rmSync(o);
    const r = await repo.push();
    expect(r.transferred).toBe(2);
    expect(await repo.remoteStatus(undefined, undefined)).toEqual([]);
    await repo.close();
  });

  it("never checks out a corrupted cache object: it names the file and removes the object", async () => {
    const { dir, repo } = makeRepo();
    await repo.add(["data"], dir);
    const md5 = repo.listFolder("data", dir).find((e) => e.relpath === "a.csv")!.md5;
    const obj = repo.cache.pathOf(md5);
    fs.chmodSync(obj, 0o644);
    fs.writeFileSync(obj, "tampered");
    fs.rmSync(path.join(dir, "data", "a.csv"));
    await expect(repo.checkout()).rejects.toThrow(/the cache object of 'data\/a\.csv' .* is corrupted/);
    expect(fs.existsSync(path.join(dir, "data", "a.csv"))).toBe(false);
    expect(fs.existsSync(obj)).toBe(false);
    // the other files are still checked out
    expect(fs.existsSync(path.join(dir, "data", "sub", "b.bin"))).toBe(true);
    await repo.close();
  });

  it("reports a missing remote object by file and remote, and a .dvc file with a wrong hash as modified", async () => {
    const { dir, repo } = makeRepo();
    const remoteDir = path.join(scratch(), "remote");
    repo.addRemote("store", remoteDir, { isDefault: true, cwd: dir });
    await repo.add(["model.txt"], dir);
    await repo.push();
    fs.rmSync(path.join(remoteDir, "files"), { recursive: true });
    fs.rmSync(path.join(dir, ".dvc", "cache"), { recursive: true });
    await expect(repo.fetch()).rejects.toThrow(/remote 'store' has no object for 'model\.txt' \(md5 [0-9a-f]{32}\)/);

    fs.writeFileSync(path.join(dir, "model.txt.dvc"), fs.readFileSync(path.join(dir, "model.txt.dvc"), "utf8").replace(/md5: \w+/, "md5: ffffffffffffffffffffffffffffffff"));
    expect(await repo.status()).toEqual([{ dvcFile: "model.txt.dvc", path: "model.txt", state: "modified" }]);
    await repo.close();
  });

  it("refuses paths outside the repository, .dvc internals, unknown remotes and a missing default", async () => {
    const { dir, repo } = makeRepo();
    await expect(repo.add(["../elsewhere"], dir)).rejects.toThrow(/'\.\.\/elsewhere' is outside the repository/);
    await expect(repo.add([".dvc/config"], dir)).rejects.toThrow(/inside \.dvc\//);
    await expect(repo.add(["nope.csv"], dir)).rejects.toThrow(/'nope\.csv' does not exist/);
    await repo.add(["data"], dir);
    await expect(repo.add(["data/sub/b.bin"], dir)).rejects.toThrow(/'data\/sub\/b\.bin' is inside 'data', which data\.dvc tracks/);
    await expect(repo.push()).rejects.toThrow(/no default remote set/);
    await expect(repo.push(undefined, "ghost")).rejects.toThrow(/remote 'ghost' is not in \.dvc\/config/);
    await repo.close();
  });

  it("links the workspace to the cache as cache.type says", async () => {
    const { dir, repo } = makeRepo();
    fs.appendFileSync(path.join(dir, ".dvc", "config"), "[cache]\n    type = hardlink\n");
    const hard = DataRepo.open(dir);
    await hard.add(["model.txt"], dir);
    const md5 = hard.tracked()[0]!.md5!;
    expect(fs.statSync(path.join(dir, "model.txt")).ino).toBe(fs.statSync(hard.cache.pathOf(md5)).ino);
    fs.writeFileSync(path.join(dir, ".dvc", "config"), "[cache]\n    type = symlink\n");
    fs.rmSync(path.join(dir, "model.txt"));
    const sym = DataRepo.open(dir);
    await sym.checkout();
    expect(fs.readlinkSync(path.join(dir, "model.txt"))).toBe(sym.cache.pathOf(md5));
    await hard.close();
    await sym.close();
    await repo.close();
  });

  it("gc keeps what the workspace uses and removes the rest", async () => {
    const { dir, repo } = makeRepo();
    await repo.add(["model.txt"], dir);
    fs.writeFileSync(path.join(dir, "model.txt"), "v2\n");
    await repo.add(["model.txt"], dir);
    expect([...repo.cache.list()]).toHaveLength(2);
    expect((await repo.gc()).removed).toBe(1);
    expect([...repo.cache.list()]).toEqual([repo.tracked()[0]!.md5]);
    await repo.close();
  });
});
