/**
 * Model URIs → a local model folder, through the tracking server's registry
 * and artifact proxy: `models:/name@alias`, `models:/name/3`,
 * `models:/<model_id>`, `runs:/<run_id>/path`, or a local folder.
 */
import fs from "node:fs";
import path from "node:path";
import { ApiError, MloopClient, RegistryClient } from "../client/index.js";
import { invalidParameter, MlflowError, notFound, temporarilyUnavailable } from "../errors.js";

export type ModelRef =
  | { kind: "alias"; name: string; alias: string }
  | { kind: "version"; name: string; version: string }
  | { kind: "logged"; modelId: string }
  | { kind: "run"; runId: string; path: string }
  | { kind: "local"; dir: string };

/** One concrete model version to load. */
export interface ResolvedModel {
  /** Registered model name, logged model id or folder name: the `model` label of logs and metrics. */
  name: string;
  /** Registry version, or the logged model id / `local` when there is no registry version. */
  version: string;
  /** The URI the user gave. */
  uri: string;
}

/**
 * Parses a model URI as `mlflow models serve -m` accepts it.
 *
 * @example
 * ```ts
 * parseModelUri("models:/fraud@champion"); // { kind: "alias", name: "fraud", alias: "champion" }
 * ```
 */
export function parseModelUri(uri: string, cwd = process.cwd()): ModelRef {
  if (uri.startsWith("models:/")) {
    const rest = uri.slice("models:/".length).replace(/^\/+/, "");
    const at = rest.lastIndexOf("@");
    if (at > 0) {
      const name = rest.slice(0, at);
      const alias = rest.slice(at + 1);
      if (!alias || alias.includes("/")) throw invalidParameter(`invalid model URI '${uri}': expected models:/<name>@<alias>`);
      return { kind: "alias", name, alias };
    }
    const slash = rest.lastIndexOf("/");
    if (slash > 0) {
      const name = rest.slice(0, slash);
      const version = rest.slice(slash + 1);
      if (!/^\d+$/.test(version)) throw invalidParameter(`invalid model URI '${uri}': the version must be a number (stages are not supported; use an alias)`);
      return { kind: "version", name, version };
    }
    if (/^m-[0-9a-f]+$/.test(rest)) return { kind: "logged", modelId: rest };
    throw invalidParameter(`invalid model URI '${uri}': expected models:/<name>@<alias>, models:/<name>/<version> or models:/<model_id>`);
  }
  if (uri.startsWith("runs:/")) {
    const m = /^runs:\/+([^/]+)\/(.+)$/.exec(uri);
    if (!m) throw invalidParameter(`invalid model URI '${uri}': expected runs:/<run_id>/<path>`);
    return { kind: "run", runId: m[1]!, path: m[2]!.replace(/\/+$/, "") };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith("file://")) {
    throw invalidParameter(`unsupported model URI '${uri}': use models:/, runs:/ or a local folder`);
  }
  const dir = path.resolve(cwd, uri.startsWith("file://") ? new URL(uri).pathname : uri);
  return { kind: "local", dir };
}

export interface ResolverOptions {
  trackingUri?: string;
  /** Where downloaded model versions are kept, one folder per version. */
  cacheDir: string;
}

function wrap(err: unknown, what: string): never {
  if (err instanceof ApiError) {
    if (err.status === 404 || err.errorCode === "RESOURCE_DOES_NOT_EXIST") throw notFound(`${what}: ${err.message}`);
    if (err.status === 0) throw temporarilyUnavailable(`${what}: ${err.message}`);
    throw new MlflowError(err.status >= 500 ? "TEMPORARILY_UNAVAILABLE" : "INVALID_PARAMETER_VALUE", `${what}: ${err.message}`);
  }
  throw err;
}

const safe = (s: string) => s.replace(/[^\w.@-]+/g, "_");

/** Resolves model URIs to versions and downloads them once into the cache. */
export class ModelResolver {
  private readonly registry?: RegistryClient;
  private readonly tracking?: MloopClient;

  constructor(private readonly opts: ResolverOptions) {
    if (opts.trackingUri) {
      this.registry = new RegistryClient({ trackingUri: opts.trackingUri, maxRetries: 2, timeoutMs: 30_000 });
      this.tracking = new MloopClient({ trackingUri: opts.trackingUri });
    }
  }

  private needServer(uri: string): RegistryClient {
    if (!this.registry) throw invalidParameter(`'${uri}' needs a tracking server: pass --tracking-uri or set MLFLOW_TRACKING_URI`);
    return this.registry;
  }

  /** The version an alias (or fixed URI) points at now. */
  async current(ref: ModelRef, uri: string): Promise<ResolvedModel> {
    switch (ref.kind) {
      case "alias": {
        const mv = await this.needServer(uri).getVersionByAlias(ref.name, ref.alias).catch((e) => wrap(e, `cannot resolve '${uri}'`));
        return { name: ref.name, version: String(mv.version), uri };
      }
      case "version":
        return { name: ref.name, version: ref.version, uri };
      case "logged":
        return { name: ref.modelId, version: ref.modelId, uri };
      case "run":
        return { name: `${ref.runId}/${ref.path}`, version: ref.runId, uri };
      case "local":
        if (!fs.existsSync(path.join(ref.dir, "MLmodel"))) throw invalidParameter(`'${ref.dir}' is not an MLflow model folder: it has no MLmodel file`);
        return { name: path.basename(ref.dir), version: "local", uri };
    }
  }

  /** A local folder holding the model's files (downloaded on first use). */
  async materialise(ref: ModelRef, model: ResolvedModel): Promise<string> {
    if (ref.kind === "local") return ref.dir;
    const dst = path.join(this.opts.cacheDir, safe(model.name), safe(model.version));
    if (fs.existsSync(path.join(dst, "MLmodel"))) return dst;
    const tmp = `${dst}.part-${process.pid}-${Date.now()}`;
    fs.mkdirSync(tmp, { recursive: true });
    try {
      const registry = this.needServer(model.uri);
      if (ref.kind === "alias" || ref.kind === "version") {
        await registry.downloadModelVersion(model.name, model.version, tmp).catch((e) => wrap(e, `cannot download ${model.name} version ${model.version}`));
      } else if (ref.kind === "logged") {
        await registry.downloadLoggedModel(ref.modelId, tmp).catch((e) => wrap(e, `cannot download logged model ${ref.modelId}`));
      } else {
        await this.downloadRunModel(registry, ref, tmp);
      }
      if (!fs.existsSync(path.join(tmp, "MLmodel"))) throw invalidParameter(`'${model.uri}' is not an MLflow model: it has no MLmodel file`);
      fs.mkdirSync(path.dirname(dst), { recursive: true });
      try {
        fs.renameSync(tmp, dst);
      } catch {
        // another process downloaded it first
        if (!fs.existsSync(path.join(dst, "MLmodel"))) throw new MlflowError("INTERNAL_ERROR", `cannot place the model in ${dst}`);
      }
      return dst;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** `runs:/<id>/<path>`: the run's artifacts, or (MLflow 3) the logged model of that name the run produced. */
  private async downloadRunModel(registry: RegistryClient, ref: Extract<ModelRef, { kind: "run" }>, dst: string): Promise<void> {
    const what = `cannot download runs:/${ref.runId}/${ref.path}`;
    const run = await this.tracking!.getRun(ref.runId).catch((e) => wrap(e, what));
    const logged = (await registry.searchLoggedModelsOfRun(run.info.experiment_id, ref.runId).catch((e) => wrap(e, what))).find((m) => m.info.name === ref.path);
    if (logged) {
      await registry.downloadLoggedModel(logged.info.model_id, dst).catch((e) => wrap(e, what));
      return;
    }
    const dir = await this.tracking!.downloadArtifacts(ref.runId, ref.path, dst).catch((e) => wrap(e, what));
    // downloadArtifacts keeps the relative path: move the model's files up to dst.
    if (dir !== dst) {
      for (const f of fs.readdirSync(dir)) fs.renameSync(path.join(dir, f), path.join(dst, f));
    }
  }
}
