/**
 * Python environments for projects: `--env-manager virtualenv` builds a venv
 * from the project's python_env.yaml, cached by a hash of what goes into it.
 */
import { execFile, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";
import { withDirLock } from "./git.js";
import { ProjectError } from "./spec.js";

export interface PythonEnvSpec {
  python?: string;
  buildDependencies: string[];
  dependencies: string[];
}

export function parsePythonEnv(file: string): PythonEnvSpec {
  let doc: unknown;
  try {
    doc = YAML.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new ProjectError(`${file} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new ProjectError(`${file} must be a mapping`);
  const y = doc as Record<string, unknown>;
  const list = (k: string): string[] => {
    const v = y[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new ProjectError(`'${k}' in ${file} must be a list of strings`);
    return v as string[];
  };
  const python = y.python === undefined || y.python === null ? undefined : String(y.python);
  return { python, buildDependencies: list("build_dependencies"), dependencies: list("dependencies") };
}

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 127) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** Streams a command's output to our stderr (pip can take minutes; the user sees it working). */
function runLoud(cmd: string, args: string[], cwd: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", () => resolve(127));
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

/** The python3 interpreter on PATH whose version matches `wanted` (e.g. "3.11" or "3.11.7"). */
export async function findPython(wanted: string | undefined): Promise<{ exe: string; version: string }> {
  const candidates: string[] = [];
  const mm = wanted?.match(/^(\d+)\.(\d+)/);
  if (mm) candidates.push(`python${mm[1]}.${mm[2]}`);
  candidates.push("python3", "python");
  const seen: string[] = [];
  for (const exe of candidates) {
    const r = await run(exe, ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]);
    if (r.code !== 0) continue;
    const version = r.out.trim();
    seen.push(`${exe} is ${version}`);
    if (!wanted || version === wanted || version.startsWith(`${wanted}.`)) return { exe, version };
  }
  throw new ProjectError(
    `python_env.yaml asks for Python ${wanted}, which is not installed (${seen.join(", ") || "no python3 on PATH"}); install it or run with --env-manager local`,
  );
}

/** Content hash of an environment: python version, dependencies and any requirement files they name. */
export function envHash(spec: PythonEnvSpec, pythonVersion: string, projectDir: string): string {
  const h = crypto.createHash("sha256");
  h.update(JSON.stringify({ python: pythonVersion, build: spec.buildDependencies, deps: spec.dependencies }));
  for (const dep of spec.dependencies) {
    const m = dep.match(/^-(?:r|c)\s*(.+)$/) ?? dep.match(/^--(?:requirement|constraint)[ =](.+)$/);
    if (m) {
      const file = path.resolve(projectDir, m[1]!.trim());
      h.update(fs.existsSync(file) ? fs.readFileSync(file) : `missing:${file}`);
    }
  }
  return h.digest("hex").slice(0, 32);
}

export interface PythonEnv {
  dir: string;
  bin: string;
  reused: boolean;
}

/**
 * Returns the venv for the project's python_env.yaml, building it the first
 * time: `python -m venv`, then pip installs the build dependencies and the
 * dependencies. Building happens in a temporary folder renamed into place, so
 * a half-built environment is never reused.
 */
export async function ensureVirtualenv(envFile: string | undefined, projectDir: string, envsDir: string, log: (line: string) => void): Promise<PythonEnv> {
  const spec = envFile ? parsePythonEnv(envFile) : { buildDependencies: [], dependencies: [] };
  const py = await findPython(spec.python);
  const hash = envHash(spec, py.version, projectDir);
  const dir = path.join(envsDir, hash);
  const bin = path.join(dir, "bin");
  const done = path.join(dir, ".mloop-complete");
  if (fs.existsSync(done)) return { dir, bin, reused: true };
  return withDirLock(`${dir}.lock`, async () => {
    if (fs.existsSync(done)) return { dir, bin, reused: true };
    log(`=== Creating virtualenv ${dir} (Python ${py.version}) ===`);
    // venv bakes its own path into scripts, so it is built at its final path and marked complete last.
    await fsp.rm(dir, { recursive: true, force: true });
    const made = await run(py.exe, ["-m", "venv", dir]);
    if (made.code !== 0) throw new ProjectError(`could not create a virtualenv with ${py.exe}: ${made.out.trim().split("\n").pop()}`);
    const pip = path.join(bin, "python");
    const build = spec.buildDependencies.length ? spec.buildDependencies : [];
    if (build.length) {
      log(`=== Installing build dependencies: ${build.join(" ")} ===`);
      if ((await runLoud(pip, ["-m", "pip", "install", "--disable-pip-version-check", "--upgrade", ...build], projectDir)) !== 0) {
        throw new ProjectError("pip could not install the build dependencies of python_env.yaml");
      }
    }
    if (spec.dependencies.length) {
      log(`=== Installing dependencies: ${spec.dependencies.join(" ")} ===`);
      const args = spec.dependencies.flatMap((d) => (d.startsWith("-") ? d.split(/\s+/, 2).filter(Boolean) : [d]));
      if ((await runLoud(pip, ["-m", "pip", "install", "--disable-pip-version-check", ...args], projectDir)) !== 0) {
        throw new ProjectError("pip could not install the dependencies of python_env.yaml");
      }
    }
    await fsp.writeFile(done, `${JSON.stringify({ python: py.version, ...spec })}\n`);
    return { dir, bin, reused: false };
  });
}
