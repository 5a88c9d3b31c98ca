/**
 * S3 remotes against moto's S3-compatible server: mloop pushes and dvc pulls, dvc pushes and mloop
 * pulls, with the endpoint in the remote's `endpointurl` and credentials from AWS_* variables, as
 * dvc reads them. The dvc side needs dvc's S3 plugin (.venv-dvcs3, from scripts/setup-python.sh).
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAS_MOTO, S3TestServer } from "../helpers/s3-server.js";
import { HAS_DVC_S3, commitAndClone, contents, dvc, git, mloop, scratch, writeData } from "./helpers.js";

const CREDENTIALS = { AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", AWS_DEFAULT_REGION: "us-east-1" };

describe.skipIf(!HAS_MOTO)("S3 remotes (moto)", () => {
  let s3: S3TestServer;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    s3 = await S3TestServer.start();
    await s3.createBucket("dvc-data");
    for (const [k, v] of Object.entries(CREDENTIALS)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });

  afterAll(async () => {
    await s3?.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  async function repoWithRemote(tag: string, prefix: string): Promise<string> {
    const dir = path.join(scratch(tag), "repo");
    fs.mkdirSync(dir);
    await git(dir, "init", "-q");
    expect((await mloop(dir, "init")).code).toBe(0);
    writeData(dir);
    expect((await mloop(dir, "remote", "add", "-d", "s3", `s3://dvc-data/${prefix}`)).code).toBe(0);
    expect((await mloop(dir, "remote", "modify", "s3", "endpointurl", s3.endpoint)).code).toBe(0);
    return dir;
  }

  it("pushes only what is missing, and a fresh clone pulls the same bytes", async () => {
    const repo = await repoWithRemote("s3-mloop", "mloop");
    expect((await mloop(repo, "add", "notes.txt", "images")).code).toBe(0);
    const first = await mloop(repo, "push", "--json");
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).transferred).toBe(48); // 46 files, the folder's manifest, notes.txt
    expect(JSON.parse((await mloop(repo, "push", "--json")).stdout).transferred).toBe(0);
    fs.writeFileSync(path.join(repo, "images", "one-more.txt"), "more");
    await mloop(repo, "add", "images");
    // the new file and the folder's new manifest
    expect(JSON.parse((await mloop(repo, "push", "--json")).stdout).transferred).toBe(2);

    const clone = await commitAndClone(repo, "s3-mloop-clone");
    expect((await mloop(clone, "pull")).code).toBe(0);
    expect(contents(path.join(clone, "images"))).toEqual(
      Object.fromEntries(Object.entries(contents(path.join(repo, "images"))).filter(([p]) => !p.endsWith(".log") && !p.startsWith("tmp/"))),
    );
  });

  it("names the remote when an object is missing from it", async () => {
    const repo = await repoWithRemote("s3-missing", "empty-prefix");
    await mloop(repo, "add", "notes.txt");
    fs.rmSync(path.join(repo, ".dvc", "cache"), { recursive: true });
    const r = await mloop(repo, "pull");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^mloop: 1 object\(s\) could not be fetched: remote 's3' has no object for 'notes\.txt' \(md5 [0-9a-f]{32}\)\n$/);
  });

  describe.skipIf(!HAS_DVC_S3)("with the real dvc", () => {
    it("dvc pulls what mloop pushed, and mloop pulls what dvc pushed", async () => {
      const repo = await repoWithRemote("s3-both", "both");
      await mloop(repo, "add", "notes.txt", "images");
      expect((await mloop(repo, "push")).code).toBe(0);
      expect((await dvc(repo, ["status", "-c"], { s3: true })).stdout).toContain("in sync");

      const clone = await commitAndClone(repo, "s3-both-dvc");
      await dvc(clone, ["pull", "-q"], { s3: true });
      expect(fs.readFileSync(path.join(clone, "notes.txt"))).toEqual(fs.readFileSync(path.join(repo, "notes.txt")));
      expect((await dvc(clone, ["status"], { s3: true })).stdout).toContain("Data and pipelines are up to date.");

      // dvc adds a file and pushes it; mloop fetches it into a clone of that
      fs.writeFileSync(path.join(clone, "images", "by-dvc.bin"), Buffer.alloc(5000, 9));
      await dvc(clone, ["add", "-q", "images"], { s3: true });
      await dvc(clone, ["push", "-q"], { s3: true });
      const again = await commitAndClone(clone, "s3-both-mloop");
      expect((await mloop(again, "pull")).code).toBe(0);
      expect(fs.readFileSync(path.join(again, "images", "by-dvc.bin"))).toEqual(Buffer.alloc(5000, 9));
      expect((await mloop(again, "status")).stdout.trim()).toBe("Data and pipelines are up to date.");
    });
  });
});
