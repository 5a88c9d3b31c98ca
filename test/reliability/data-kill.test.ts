/**
 * `kill -9` in the middle of `mloop data add` (a real subprocess) leaves no corrupt cache object
 * and no half-written `.dvc` file, and the add can simply be run again.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readDvcFile } from "../../src/data/index.js";
import { buildScratchCli } from "../helpers/scratch-cli.js";

let built: ReturnType<typeof buildScratchCli> | undefined;
beforeAll(() => {
  built = buildScratchCli("data-kill");
});
afterAll(() => built?.remove());

function objectsProblems(repo: string): string[] {
  const root = path.join(repo, ".dvc", "cache", "files", "md5");
  if (!fs.existsSync(root)) return [];
  const problems: string[] = [];
  for (const rel of fs.readdirSync(root, { recursive: true, encoding: "utf8" })) {
    const abs = path.join(root, rel);
    if (!fs.statSync(abs).isFile()) continue;
    const name = rel.split(path.sep).join("");
    const md5 = createHash("md5").update(fs.readFileSync(abs)).digest("hex");
    if (name.replace(/\.dir$/, "") !== md5) problems.push(`${rel} holds ${md5}`);
  }
  return problems;
}

/** Starts `mloop data add data big.bin` and kills it with SIGKILL once `when()` holds (or it ends). */
async function addAndKill(repo: string, when: () => boolean): Promise<boolean> {
  const child = spawn(process.execPath, [built!.bin, "data", "add", "data", "big.bin"], { cwd: repo, stdio: "ignore" });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let killed = false;
  for (;;) {
    if (child.exitCode !== null) break;
    if (when()) {
      killed = child.kill("SIGKILL");
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await exited;
  return killed;
}

describe("kill -9 during mloop data add", () => {
  it("leaves only whole objects and whole .dvc files, and a rerun completes the add", async () => {
    const repo = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-data-kill-"));
    execFileSync("git", ["init", "-q"], { cwd: repo });
    execFileSync(process.execPath, [built!.bin, "data", "init"], { cwd: repo, stdio: "ignore" });
    for (let i = 0; i < 300; i++) {
      fs.mkdirSync(path.join(repo, "data", String(i % 10)), { recursive: true });
      const b = Buffer.alloc(200_000, i % 251);
      b.writeUInt32LE(i, 0);
      fs.writeFileSync(path.join(repo, "data", String(i % 10), `${i}.bin`), b);
    }
    fs.writeFileSync(path.join(repo, "big.bin"), Buffer.alloc(48 * 1024 * 1024, 3));
    const objects = path.join(repo, ".dvc", "cache", "files", "md5");
    const count = () => (fs.existsSync(objects) ? fs.readdirSync(objects).length : 0);

    // killed as the first objects land, then again later in the add
    let kills = 0;
    for (const threshold of [1, 40, 120]) {
      if (await addAndKill(repo, () => count() >= threshold)) kills++;
      expect(objectsProblems(repo)).toEqual([]);
      for (const f of ["data.dvc", "big.bin.dvc"]) {
        if (fs.existsSync(path.join(repo, f))) expect(readDvcFile(path.join(repo, f)).outs[0]!.md5).toMatch(/^[0-9a-f]{32}(\.dir)?$/);
      }
      expect(fs.readdirSync(repo).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    }
    expect(kills).toBeGreaterThan(0);

    execFileSync(process.execPath, [built!.bin, "data", "add", "data", "big.bin"], { cwd: repo, stdio: "ignore" });
    expect(objectsProblems(repo)).toEqual([]);
    const status = execFileSync(process.execPath, [built!.bin, "data", "status"], { cwd: repo }).toString();
    expect(status.trim()).toBe("Data and pipelines are up to date.");
    expect(readDvcFile(path.join(repo, "data.dvc")).outs[0]!.nfiles).toBe(300);
    // gc clears what the killed runs left in the cache's temporary folder
    execFileSync(process.execPath, [built!.bin, "data", "gc", "-w"], { cwd: repo, stdio: "ignore" });
    expect(fs.existsSync(path.join(repo, ".dvc", "cache", ".mloop-tmp"))).toBe(false);
  });
});
