/**
 * MLproject files: entry points, typed parameters, the command line an entry
 * point runs. Parsing follows `mlflow run` so the same files behave the same.
 */
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";

export class ProjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProjectError";
  }
}

export const PARAMETER_TYPES = ["float", "int", "string", "path", "uri"] as const;
export type ParameterType = (typeof PARAMETER_TYPES)[number];

export interface Parameter {
  name: string;
  type: ParameterType;
  /** `undefined` when the parameter is required. */
  default?: string;
}

export interface EntryPoint {
  name: string;
  parameters: Parameter[];
  command: string;
}

export type ProjectEnvType = "python_env" | "conda_env" | "docker_env" | "none";

export interface Project {
  dir: string;
  name?: string;
  entryPoints: Map<string, EntryPoint>;
  envType: ProjectEnvType;
  /** python_env.yaml / conda.yaml path for python_env and conda_env projects. */
  envFile?: string;
  dockerImage?: string;
  /** Warnings worth showing the user (unknown parameter types…). */
  warnings: string[];
}

/** What Python's `str()` prints for a float, so defaults reach commands as MLflow passes them. */
export function pythonFloatString(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (v === 0) return Object.is(v, -0) ? "-0.0" : "0.0";
  const [mantissa, expRaw] = v.toExponential().split("e") as [string, string];
  const exp = Number(expRaw);
  if (exp < -4 || exp >= 16) {
    return `${mantissa}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  const s = String(v);
  return s.includes(".") || s.includes("e") ? s : `${s}.0`;
}

function scalarToString(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return pythonFloatString(v);
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

function findMlprojectFile(dir: string): string | undefined {
  const hit = fs.readdirSync(dir).find((f) => f.toLowerCase() === "mlproject");
  return hit === undefined ? undefined : path.join(dir, hit);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Loads the project in `dir`: its MLproject file, or an empty project that can still run scripts. */
export function loadProject(dir: string): Project {
  const file = findMlprojectFile(dir);
  let doc: unknown = {};
  if (file !== undefined) {
    try {
      // Big integers keep ints and floats apart (`1.0` reaches the command as "1.0", as with PyYAML).
      doc = YAML.parse(fs.readFileSync(file, "utf8"), { intAsBigInt: true }) ?? {};
    } catch (err) {
      throw new ProjectError(`MLproject file ${file} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
    if (!isRecord(doc)) throw new ProjectError(`MLproject file ${file} must be a mapping`);
  }
  const y = doc as Record<string, unknown>;
  const warnings: string[] = [];
  const envFields = (["python_env", "conda_env", "docker_env"] as const).filter((k) => y[k] !== undefined);
  if (envFields.length > 1) throw new ProjectError(`Project cannot contain multiple environment fields: ${envFields.join(", ")}`);

  const entryPoints = new Map<string, EntryPoint>();
  const eps = y.entry_points ?? {};
  if (!isRecord(eps)) throw new ProjectError("MLproject 'entry_points' must be a mapping of entry point names");
  for (const [name, raw] of Object.entries(eps)) {
    if (!isRecord(raw)) throw new ProjectError(`entry point '${name}' must be a mapping with a 'command'`);
    if (typeof raw.command !== "string" || !raw.command.trim()) throw new ProjectError(`entry point '${name}' has no 'command'`);
    const params: Parameter[] = [];
    const rawParams = raw.parameters ?? {};
    if (!isRecord(rawParams)) throw new ProjectError(`parameters of entry point '${name}' must be a mapping`);
    for (const [pname, pdef] of Object.entries(rawParams)) {
      let type: string;
      let def: string | undefined;
      if (typeof pdef === "string") {
        type = pdef;
      } else if (isRecord(pdef)) {
        type = pdef.type === undefined ? "string" : String(pdef.type);
        def = scalarToString(pdef.default);
      } else if (pdef === null) {
        type = "string";
      } else {
        throw new ProjectError(`parameter '${pname}' of entry point '${name}' must be a type name or a mapping with 'type' and 'default'`);
      }
      if (!(PARAMETER_TYPES as readonly string[]).includes(type)) {
        warnings.push(`parameter '${pname}' of entry point '${name}' has unknown type '${type}'; treating it as a string`);
        type = "string";
      }
      params.push({ name: pname, type: type as ParameterType, default: def });
    }
    entryPoints.set(name, { name, parameters: params, command: raw.command });
  }

  const project: Project = { dir, name: typeof y.name === "string" ? y.name : undefined, entryPoints, envType: "none", warnings };
  if (y.docker_env !== undefined) {
    const image = isRecord(y.docker_env) ? y.docker_env.image : undefined;
    if (typeof image !== "string" || !image) throw new ProjectError("MLproject docker_env has no 'image'");
    return { ...project, envType: "docker_env", dockerImage: image };
  }
  const envFile = (key: string, value: unknown): string => {
    if (typeof value !== "string") throw new ProjectError(`MLproject '${key}' must name a file`);
    const p = path.join(dir, value);
    if (!fs.existsSync(p)) throw new ProjectError(`Project specified ${key} file ${p}, but no such file was found`);
    return p;
  };
  if (y.python_env !== undefined) return { ...project, envType: "python_env", envFile: envFile("python_env", y.python_env) };
  if (y.conda_env !== undefined) return { ...project, envType: "conda_env", envFile: envFile("conda_env", y.conda_env) };
  if (fs.existsSync(path.join(dir, "python_env.yaml"))) return { ...project, envType: "python_env", envFile: path.join(dir, "python_env.yaml") };
  if (fs.existsSync(path.join(dir, "conda.yaml"))) return { ...project, envType: "conda_env", envFile: path.join(dir, "conda.yaml") };
  return project;
}

/** The entry point by name, or a script run the way MLflow runs one (`python x.py`, `$SHELL x.sh`). */
export function getEntryPoint(project: Project, name: string, shell = "bash"): EntryPoint {
  const ep = project.entryPoints.get(name);
  if (ep) return ep;
  const ext = path.extname(name);
  if (ext === ".py") return { name, parameters: [], command: `python ${shellQuote(name)}` };
  if (ext === ".sh") return { name, parameters: [], command: `${shell} ${shellQuote(name)}` };
  const known = [...project.entryPoints.keys()];
  throw new ProjectError(
    `Could not find entry point '${name}' among [${known.map((k) => `'${k}'`).join(", ")}] or run it as a script (supported: .py, .sh)`,
  );
}

/** Quotes a value for a POSIX shell the way Python's `shlex.quote` does. */
export function shellQuote(s: string): string {
  if (s === "") return "''";
  if (/^[\w@%+=:,./-]+$/.test(s) && /^[\x00-\x7f]*$/.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

export interface ResolvedParameters {
  /** Declared parameters, in declaration order, with defaults filled in. */
  params: [string, string][];
  /** `-P` values the entry point does not declare, in the order given. */
  extra: [string, string][];
}

const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$/i;

/** True for values with a URI scheme (`s3://…`, `file:///…`, `runs:/…`). */
export function isUri(value: string): boolean {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(value) && !/^[a-zA-Z]:[\\/]/.test(value);
}

/**
 * Checks user values against the entry point: every required parameter
 * present, `int`/`float` values numeric, `uri` values URIs. All problems are
 * reported together, before anything starts.
 */
export function resolveParameters(ep: EntryPoint, user: [string, string][]): ResolvedParameters {
  const given = new Map(user);
  const problems: string[] = [];
  const missing = ep.parameters.filter((p) => !given.has(p.name) && p.default === undefined).map((p) => `'${p.name}'`);
  if (missing.length) problems.push(`no value given for required parameter${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
  const params: [string, string][] = [];
  for (const p of ep.parameters) {
    const v = given.get(p.name) ?? p.default;
    if (v === undefined) continue;
    const from = given.has(p.name) ? "" : " (its default)";
    if (p.type === "int" && !INT.test(v.trim())) problems.push(`parameter '${p.name}' must be an int, got '${v}'${from}`);
    else if (p.type === "float" && !FLOAT.test(v.trim())) problems.push(`parameter '${p.name}' must be a float, got '${v}'${from}`);
    else if (p.type === "uri" && !isUri(v)) problems.push(`parameter '${p.name}' must be a URI (scheme://…), got '${v}'${from}`);
    params.push([p.name, v]);
  }
  if (problems.length) throw new ProjectError(`entry point '${ep.name}': ${problems.join("; ")}`);
  const declared = new Set(ep.parameters.map((p) => p.name));
  return { params, extra: user.filter(([k]) => !declared.has(k)) };
}

/**
 * The shell command for an entry point: `{name}` placeholders replaced by
 * shell-quoted values (`{{`/`}}` are literal braces, as in Python's
 * `str.format`), undeclared parameters appended as `--key value`.
 */
export function buildCommand(ep: EntryPoint, resolved: ResolvedParameters): string {
  const values = new Map(resolved.params);
  let out = "";
  const src = ep.command;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i]!;
    if (ch === "{" && src[i + 1] === "{") {
      out += "{";
      i++;
    } else if (ch === "}" && src[i + 1] === "}") {
      out += "}";
      i++;
    } else if (ch === "{") {
      const end = src.indexOf("}", i);
      if (end < 0) throw new ProjectError(`entry point '${ep.name}': unmatched '{' in command`);
      const name = src.slice(i + 1, end).trim();
      const v = values.get(name);
      if (v === undefined) {
        throw new ProjectError(`entry point '${ep.name}': command uses {${name}}, which is not one of its parameters`);
      }
      out += shellQuote(v);
      i = end;
    } else {
      out += ch;
    }
  }
  const parts = [out, ...resolved.extra.map(([k, v]) => `--${shellQuote(k)} ${shellQuote(v)}`)];
  return parts.join(" ");
}

/** Parses `-P key=value` items; a malformed or repeated one is an error. */
export function parseParamList(items: string[]): [string, string][] {
  const seen = new Set<string>();
  const out: [string, string][] = [];
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new ProjectError(`Invalid format for -P parameter: '${item}'. Use -P name=value.`);
    const key = item.slice(0, eq);
    if (seen.has(key)) throw new ProjectError(`Repeated parameter: '${key}'`);
    seen.add(key);
    out.push([key, item.slice(eq + 1)]);
  }
  return out;
}
