import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { formatDvcFile, readDvcFile } from "./dvcfile.js";
import { parseIni, formatIni } from "./ini.js";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "mloop-dvcfile-"));

describe(".dvc files", () => {
  it("writes what dvc writes for a folder and a file", () => {
    expect(formatDvcFile({ extra: {}, outs: [{ md5: "c72c0d2bcf8952b805fddb3942a80be7.dir", size: 11, nfiles: 5, hash: "md5", path: "d", extra: {} }] })).toBe(
      "outs:\n- md5: c72c0d2bcf8952b805fddb3942a80be7.dir\n  size: 11\n  nfiles: 5\n  hash: md5\n  path: d\n",
    );
  });

  it("quotes paths YAML would read as something else, and reads them back the same", () => {
    for (const p of ["123", "yes", "null", "a: b", "#x", "- x", "é.txt", "with space.csv", "trailing ", "'quoted'"]) {
      const text = formatDvcFile({ extra: {}, outs: [{ md5: "d41d8cd98f00b204e9800998ecf8427e", size: 0, hash: "md5", path: p, extra: {} }] });
      expect((YAML.parse(text) as { outs: { path: unknown }[] }).outs[0]!.path).toBe(p);
      const dir = tmp();
      fs.writeFileSync(path.join(dir, "x.dvc"), text);
      expect(readDvcFile(path.join(dir, "x.dvc")).outs[0]!.path).toBe(p);
    }
  });

  it("keeps keys it does not use", () => {
    const dir = tmp();
    const file = path.join(dir, "a.dvc");
    fs.writeFileSync(file, "outs:\n- md5: d41d8cd98f00b204e9800998ecf8427e\n  size: 0\n  hash: md5\n  path: a\n  desc: the raw data\n  cache: true\nmeta:\n  owner: ml\n");
    const d = readDvcFile(file);
    expect(d.outs[0]!.extra).toEqual({ desc: "the raw data", cache: true });
    expect(YAML.parse(formatDvcFile(d))).toEqual(YAML.parse(fs.readFileSync(file, "utf8")));
  });

  it("names the file in every error", () => {
    const dir = tmp();
    const bad = (text: string) => {
      fs.writeFileSync(path.join(dir, "bad.dvc"), text);
      return () => readDvcFile(path.join(dir, "bad.dvc"), "bad.dvc");
    };
    expect(bad("outs: [")).toThrow(/^bad\.dvc is not valid YAML/);
    expect(bad("just text")).toThrow(/bad\.dvc is not a \.dvc file/);
    expect(bad("outs:\n- md5: xyz\n  path: a\n")).toThrow(/bad\.dvc: 'xyz' is not an md5 hash/);
    expect(bad("outs:\n- md5: d41d8cd98f00b204e9800998ecf8427e\n  path: ../../etc/passwd\n")).toThrow(/outside the repository/);
    expect(bad("outs:\n- md5: d41d8cd98f00b204e9800998ecf8427e\n  size: -1\n  path: a\n")).toThrow(/'size' of 'a'/);
  });
});

describe("DVC config files", () => {
  it("reads what dvc writes and writes it back the same", () => {
    const text = "[core]\n    remote = store\n[cache]\n    type = \"hardlink,copy\"\n['remote \"store\"']\n    url = /tmp/dvct-remote\n['remote \"s3r\"']\n    url = s3://bucket/pre\n    endpointurl = http://127.0.0.1:9\n";
    const s = parseIni(text, "config");
    expect(s.get("cache")!.get("type")).toBe("hardlink,copy");
    expect(s.get('remote "s3r"')!.get("endpointurl")).toBe("http://127.0.0.1:9");
    expect(formatIni(s)).toBe(text);
    expect(() => parseIni("url = x\n", ".dvc/config")).toThrow(/\.dvc\/config: line 1/);
  });
});
