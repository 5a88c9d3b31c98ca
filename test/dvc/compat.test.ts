/**
 * mloop data and the real dvc 3.67.1 (from .venv) take turns on the same repositories: what one
 * writes, the other reads, with a local remote. S3 remotes are in s3.test.ts.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { HAS_DVC, cacheObjects, commitAndClone, contents, dvc, git, mloop, scratch, writeData } from "./helpers.js";

const TRACKED = ["notes.txt", "images"];

/** What `images/` holds without the files .dvcignore leaves out: what a restore brings back. */
function tracked(repo: string): Record<string, string> {
  return Object.fromEntries(Object.entries(contents(path.join(repo, "images"))).filter(([p]) => !p.endsWith(".log") && !p.startsWith("tmp/")));
}

async function newRepo(tag: string, init: "dvc" | "mloop"): Promise<string> {
  const dir = path.join(scratch(tag), "repo");
  fs.mkdirSync(dir);
  await git(dir, "init", "-q");
  if (init === "dvc") await dvc(dir, ["init", "-q"]);
  else expect((await mloop(dir, "init")).code).toBe(0);
  writeData(dir);
  return dir;
}

describe.skipIf(!HAS_DVC)("with the real dvc (local remote)", () => {
  it("writes the same .dvc files, .gitignore entries and cache objects as dvc add", async () => {
    const byDvc = await newRepo("same-dvc", "dvc");
    const byMloop = await newRepo("same-mloop", "mloop");
    await dvc(byDvc, ["add", "-q", ...TRACKED]);
    const r = await mloop(byMloop, "add", ...TRACKED);
    expect(r.stderr).toBe("");
    for (const f of ["notes.txt.dvc", "images.dvc", ".gitignore", ".dvc/.gitignore", ".dvcignore"]) {
      expect(fs.readFileSync(path.join(byMloop, f), "utf8"), f).toBe(fs.readFileSync(path.join(byDvc, f), "utf8"));
    }
    expect(cacheObjects(byMloop)).toEqual(cacheObjects(byDvc));
    // DVC 3 hashes text as bytes: the CRLF file's md5 is its plain md5
    const plain = createHash("md5").update(fs.readFileSync(path.join(byMloop, "notes.txt"))).digest("hex");
    expect(fs.readFileSync(path.join(byMloop, "notes.txt.dvc"), "utf8")).toContain(`md5: ${plain}\n`);
  });

  it("uses a repository made by dvc add and dvc push: status clean, pull and checkout restore the bytes", async () => {
    const repo = await newRepo("from-dvc", "dvc");
    const remote = path.join(path.dirname(repo), "remote");
    await dvc(repo, ["add", "-q", ...TRACKED]);
    await dvc(repo, ["remote", "add", "-q", "-d", "store", remote]);
    await dvc(repo, ["push", "-q"]);

    const status = await mloop(repo, "status", "--json");
    expect([status.code, JSON.parse(status.stdout)]).toEqual([0, {}]);
    expect((await mloop(repo, "status", "-c", "--json")).stdout.trim()).toBe("{}");

    const clone = await commitAndClone(repo, "from-dvc-clone");
    const pulled = await mloop(clone, "pull");
    expect(pulled.stderr).toBe("");
    expect(contents(path.join(clone, "images"))).toEqual(tracked(repo));
    expect(fs.readFileSync(path.join(clone, "notes.txt"))).toEqual(fs.readFileSync(path.join(repo, "notes.txt")));
    expect((await mloop(clone, "status")).stdout.trim()).toBe("Data and pipelines are up to date.");

    fs.rmSync(path.join(clone, "images", "nested"), { recursive: true });
    fs.writeFileSync(path.join(clone, "notes.txt"), "edited");
    const modified = await mloop(clone, "status", "--json");
    expect(JSON.parse(modified.stdout)).toEqual({
      "images.dvc": [{ "changed outs": { images: "modified" } }],
      "notes.txt.dvc": [{ "changed outs": { "notes.txt": "modified" } }],
    });
    expect((await mloop(clone, "checkout")).code).toBe(0);
    expect(contents(path.join(clone, "images"))).toEqual(tracked(repo));
    // and dvc agrees with what mloop checked out
    expect((await dvc(clone, ["status"])).stdout).toContain("Data and pipelines are up to date.");
  });

  it("makes a repository dvc uses: dvc status clean, dvc pull and dvc checkout restore the bytes", async () => {
    const repo = await newRepo("from-mloop", "mloop");
    const remote = path.join(path.dirname(repo), "remote");
    expect((await mloop(repo, "add", ...TRACKED)).code).toBe(0);
    expect((await mloop(repo, "remote", "add", "-d", "store", remote)).code).toBe(0);
    expect((await mloop(repo, "push")).code).toBe(0);

    expect((await dvc(repo, ["status"])).stdout).toContain("Data and pipelines are up to date.");
    expect((await dvc(repo, ["status", "-c"])).stdout).toContain("Cache and remote 'store' are in sync.");
    expect(JSON.parse((await dvc(repo, ["data", "status", "--json", "--granular", "--unchanged"])).stdout).uncommitted ?? {}).toEqual({});

    const clone = await commitAndClone(repo, "from-mloop-clone");
    expect(JSON.parse((await dvc(clone, ["data", "status", "--json"])).stdout)).toMatchObject({ not_in_cache: expect.arrayContaining(["images/", "notes.txt"]) });
    await dvc(clone, ["pull", "-q"]);
    expect(contents(path.join(clone, "images"))).toEqual(tracked(repo));
    expect(JSON.parse((await dvc(clone, ["data", "status", "--json"])).stdout)).toEqual({});
    fs.rmSync(path.join(clone, "images"), { recursive: true });
    await dvc(clone, ["checkout", "-q"]);
    expect(contents(path.join(clone, "images"))).toEqual(tracked(repo));
  });

  it("takes turns: dvc commits a change mloop pushes, and mloop's change dvc checks out", async () => {
    const repo = await newRepo("turns", "mloop");
    const remote = path.join(path.dirname(repo), "remote");
    await mloop(repo, "add", ...TRACKED);
    await mloop(repo, "remote", "add", "-d", "store", remote);
    fs.writeFileSync(path.join(repo, "images", "added-by-dvc.txt"), "from dvc");
    await dvc(repo, ["commit", "-q", "-f", "images.dvc"]);
    expect((await mloop(repo, "status")).stdout.trim()).toBe("Data and pipelines are up to date.");
    expect((await mloop(repo, "push")).code).toBe(0);
    expect((await dvc(repo, ["status", "-c"])).stdout).toContain("in sync");
    const v2 = fs.readFileSync(path.join(repo, "images.dvc"), "utf8");
    fs.rmSync(path.join(repo, "images", "added-by-dvc.txt"));
    expect((await mloop(repo, "commit", "images")).code).toBe(0);
    fs.writeFileSync(path.join(repo, "images.dvc"), v2);
    await dvc(repo, ["checkout", "-q", "-f"]);
    expect(fs.readFileSync(path.join(repo, "images", "added-by-dvc.txt"), "utf8")).toBe("from dvc");
  });
});
