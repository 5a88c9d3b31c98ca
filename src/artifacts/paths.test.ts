import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { joinArtifactPath, resolveUnderRoot, safeArtifactPath } from "./paths.js";

function rejected(p: string): void {
  expect(() => safeArtifactPath(p)).toThrow(expect.objectContaining({ errorCode: "INVALID_PARAMETER_VALUE", status: 400 }));
}

describe("safeArtifactPath", () => {
  it("normalises ordinary paths", () => {
    expect(safeArtifactPath("model/MLmodel")).toBe("model/MLmodel");
    expect(safeArtifactPath("a//b/./c/")).toBe("a/b/c");
    expect(safeArtifactPath("")).toBe("");
    expect(safeArtifactPath(undefined)).toBe("");
    expect(safeArtifactPath("plots/loss curve.png")).toBe("plots/loss curve.png");
    expect(safeArtifactPath("weird..name/..x/x..")).toBe("weird..name/..x/x..");
    expect(safeArtifactPath("ünïcode/日本語.txt")).toBe("ünïcode/日本語.txt");
    expect(safeArtifactPath("epoch:3/ckpt")).toBe("epoch:3/ckpt");
  });

  it("rejects '..' segments", () => {
    rejected("..");
    rejected("../etc/passwd");
    rejected("a/../../b");
    rejected("a/..");
  });

  it("rejects percent-encoded '..' (%2e%2e)", () => {
    rejected("%2e%2e/etc/passwd");
    rejected("a/%2E%2E/%2e%2e/b");
    rejected("%2e%2e%2fetc%2fpasswd");
    rejected(".%2e/x");
  });

  it("rejects double-encoded '..' (%252e%252e)", () => {
    rejected("%252e%252e/etc/passwd");
    rejected("a/%252E%252E%252Fb");
    rejected("%25252e%25252e/x");
  });

  it("rejects backslashes, raw or encoded", () => {
    rejected("..\\windows");
    rejected("a\\b");
    rejected("a%5c..%5cb");
    rejected("a%255cb");
  });

  it("rejects absolute paths", () => {
    rejected("/etc/passwd");
    rejected("//proc/self/environ");
    rejected("%2fetc%2fpasswd");
  });

  it("rejects drive letters and URIs", () => {
    rejected("C:/Windows/win.ini");
    rejected("c:foo");
    rejected("file:///etc/passwd");
    rejected("file:etc/passwd");
    rejected("s3://other-bucket/key");
  });

  it("rejects NUL bytes and control characters, raw or encoded", () => {
    rejected("a\0b");
    rejected("model.pkl%00.txt");
    rejected("a%2500b");
    rejected("line\nbreak");
  });

  it("rejects '#' and '?' tricks", () => {
    rejected("a#/../../b");
    rejected("x%23y");
    rejected("a?b=../../c");
    rejected("a%3f../x");
    rejected("a%253f/x");
  });

  it("rejects full-width dots that normalise to '..'", () => {
    rejected("\uff0e\uff0e/etc/passwd");
  });

  it("rejects the staging folder", () => {
    rejected(".mloop-uploads/tmp/x");
    expect(safeArtifactPath("a/.mloop-uploads")).toBe("a/.mloop-uploads");
  });

  it("rejects overlong paths", () => {
    rejected("a/".repeat(3000));
  });

  it("joins paths without empty segments", () => {
    expect(joinArtifactPath("", "a", undefined, "b/c")).toBe("a/b/c");
    expect(joinArtifactPath()).toBe("");
  });
});

describe("resolveUnderRoot", () => {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mloop-paths-")));
  const root = path.join(base, "root");
  const outside = path.join(base, "outside");
  fs.mkdirSync(path.join(root, "inside"), { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, "secret"), "s");
  fs.symlinkSync(outside, path.join(root, "link-dir"));
  fs.symlinkSync(path.join(outside, "secret"), path.join(root, "link-file"));
  fs.symlinkSync(path.join(outside, "nothing-yet"), path.join(root, "dangling"));
  fs.symlinkSync(path.join(root, "inside"), path.join(root, "good-link"));
  afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

  it("resolves existing and future paths under the root", async () => {
    expect((await resolveUnderRoot(root, "inside")).abs).toBe(path.join(root, "inside"));
    expect((await resolveUnderRoot(root, "inside/new/file.txt")).abs).toBe(path.join(root, "inside", "new", "file.txt"));
    expect((await resolveUnderRoot(root, "")).abs).toBe(root);
    expect((await resolveUnderRoot(root, "good-link/x")).abs).toBe(path.join(root, "inside", "x"));
  });

  it("rejects a symlinked folder that leads outside", async () => {
    await expect(resolveUnderRoot(root, "link-dir/secret")).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
    await expect(resolveUnderRoot(root, "link-dir/new/file")).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
  });

  it("rejects a symlinked file that leads outside", async () => {
    await expect(resolveUnderRoot(root, "link-file")).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
  });

  it("rejects a dangling symlink that would create a file outside", async () => {
    await expect(resolveUnderRoot(root, "dangling")).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
  });

  it("runs the textual checks first", async () => {
    await expect(resolveUnderRoot(root, "../outside/secret")).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
  });
});
