import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DvcIgnore } from "./ignore.js";

function repo(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-ignore-"));
  for (const [p, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.writeFileSync(path.join(dir, p), text);
  }
  return dir;
}

describe(".dvcignore", () => {
  it("follows gitignore rules: globs at any depth, anchors, folders only, negation, escapes, **", () => {
    const ig = new DvcIgnore(
      repo({
        ".dvcignore": "# comment\n*.log\n!keep.log\n/top.tmp\nbuild/\ndocs/**/draft?.md\n\\#hash\nraw/[ab]*.csv\n",
      }),
    );
    expect(ig.isIgnored("a.log", false)).toBe(true);
    expect(ig.isIgnored("deep/down/a.log", false)).toBe(true);
    expect(ig.isIgnored("deep/keep.log", false)).toBe(false);
    expect(ig.isIgnored("top.tmp", false)).toBe(true);
    expect(ig.isIgnored("sub/top.tmp", false)).toBe(false);
    expect(ig.isIgnored("x/build", true)).toBe(true);
    expect(ig.isIgnored("x/build", false)).toBe(false);
    expect(ig.isIgnored("docs/draft1.md", false)).toBe(true);
    expect(ig.isIgnored("docs/a/b/draft2.md", false)).toBe(true);
    expect(ig.isIgnored("docs/a/final.md", false)).toBe(false);
    expect(ig.isIgnored("#hash", false)).toBe(true);
    expect(ig.isIgnored("raw/b1.csv", false)).toBe(true);
    expect(ig.isIgnored("raw/c1.csv", false)).toBe(false);
  });

  it("reads .dvcignore files in subfolders, relative to their folder, and always ignores .git and .dvc", () => {
    const ig = new DvcIgnore(repo({ ".dvcignore": "", "data/.dvcignore": "/cache\n*.tmp\n" }));
    expect(ig.isIgnored("data/cache", true)).toBe(true);
    expect(ig.isIgnored("data/x/cache", true)).toBe(false);
    expect(ig.isIgnored("data/x/y.tmp", false)).toBe(true);
    expect(ig.isIgnored("y.tmp", false)).toBe(false);
    expect(ig.isIgnored("data/.git", true)).toBe(true);
    expect(ig.isIgnored(".dvc", true)).toBe(true);
  });
});
