import path from "node:path";
import type { Command } from "commander";
import { resolveTrackingUri } from "../config.js";
import { RegistryClient, type ModelVersion, type RegisteredModel, type Stage } from "../client/index.js";
import { CliError } from "./errors.js";
import { collect, formatTime, out, paint, positiveInt, printJson, printPairs, printTable, transferProgress, withCommonOptions, withExamples, type CommonOptions } from "./output.js";

const STAGES: Stage[] = ["None", "Staging", "Production", "Archived"];

function registryFor(opts: CommonOptions): RegistryClient {
  try {
    return new RegistryClient({ trackingUri: resolveTrackingUri(opts.trackingUri), maxRetries: 3 });
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
}

function parseTag(raw: string): [string, string] {
  const i = raw.indexOf("=");
  if (i <= 0) throw new CliError(`tags are written key=value, got '${raw}'`);
  return [raw.slice(0, i), raw.slice(i + 1)];
}

function parseStage(raw: string): Stage {
  const s = STAGES.find((x) => x.toLowerCase() === raw.toLowerCase());
  if (!s) throw new CliError(`stage must be one of ${STAGES.join(", ")}, got '${raw}'`);
  return s;
}

function versionArg(raw: string): string {
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new CliError(`version must be a positive integer, got '${raw}'`);
  return String(Number(raw));
}

function latestOf(m: RegisteredModel): ModelVersion | undefined {
  return (m.latest_versions ?? []).reduce<ModelVersion | undefined>((best, v) => (!best || Number(v.version) > Number(best.version) ? v : best), undefined);
}

function aliasesOf(m: RegisteredModel): string {
  return (m.aliases ?? []).map((a) => `${a.alias}→v${a.version}`).join(", ") || "-";
}

function paintStage(stage: string): string {
  return stage === "Production" ? paint("green", stage) : stage === "Staging" ? paint("yellow", stage) : stage === "Archived" ? paint("dim", stage) : stage;
}

function versionRows(versions: ModelVersion[]): string[][] {
  return versions.map((v) => [v.version, paintStage(v.current_stage), (v.aliases ?? []).join(", ") || "-", v.run_id ?? "-", formatTime(v.creation_timestamp), v.source]);
}

/** All pages of a search, up to `limit` items. */
async function collectPages<T>(fetch: (token?: string) => Promise<{ items: T[]; nextPageToken?: string }>, limit: number): Promise<T[]> {
  const items: T[] = [];
  let token: string | undefined;
  do {
    const page = await fetch(token);
    items.push(...page.items);
    token = page.nextPageToken;
  } while (token && items.length < limit);
  return items.slice(0, limit);
}

export function registerModelsCommand(program: Command): void {
  const group = program.command("models").description("Registered models: list, describe, register versions, aliases, stages, download, delete");
  withExamples(group, "mloop models list --tracking-uri http://127.0.0.1:5000", "mloop models alias set fraud champion 3");

  withExamples(
    withCommonOptions(
      group
        .command("list")
        .description("List registered models")
        .option("--filter <expr>", "MLflow search filter, e.g. \"name ILIKE '%fraud%'\" or \"tags.team = 'risk'\"")
        .option("--order-by <clause>", "ordering, e.g. 'last_updated_timestamp DESC' (repeatable)", collect)
        .option("--max-results <n>", "show at most n models", positiveInt("--max-results"), 1000),
    ),
    "mloop models list --filter \"name LIKE 'fraud%'\"",
    "mloop models list --json",
  ).action(async (opts: CommonOptions & { filter?: string; orderBy?: string[]; maxResults: number }) => {
    const registry = registryFor(opts);
    const models = await collectPages(
      (pageToken) => registry.searchRegisteredModels({ filter: opts.filter, orderBy: opts.orderBy, maxResults: Math.min(opts.maxResults, 1000), pageToken }),
      opts.maxResults,
    );
    if (opts.json) return printJson(models);
    printTable(
      ["NAME", "LATEST", "ALIASES", "LAST UPDATED", "DESCRIPTION"],
      models.map((m) => [m.name, latestOf(m) ? `v${latestOf(m)!.version}` : "-", aliasesOf(m), formatTime(m.last_updated_timestamp), m.description ?? ""]),
    );
  });

  withExamples(
    withCommonOptions(group.command("describe").description("Show a registered model: tags, aliases and latest versions").argument("<name>", "registered model name")),
    "mloop models describe fraud",
  ).action(async (name: string, opts: CommonOptions) => {
    const model = await registryFor(opts).getRegisteredModel(name);
    if (opts.json) return printJson(model);
    printPairs([
      ["Name", model.name],
      ["Description", model.description || "-"],
      ["Created", formatTime(model.creation_timestamp)],
      ["Last updated", formatTime(model.last_updated_timestamp)],
      ["Tags", (model.tags ?? []).map((t) => `${t.key}=${t.value}`).join(", ") || "-"],
      ["Aliases", aliasesOf(model)],
    ]);
    const latest = model.latest_versions ?? [];
    if (latest.length) {
      out("");
      printTable(["VERSION", "STAGE", "ALIASES", "RUN ID", "CREATED", "SOURCE"], versionRows(latest));
    }
  });

  withExamples(
    withCommonOptions(
      group
        .command("versions")
        .description("List the versions of a registered model, newest first")
        .argument("<name>", "registered model name")
        .option("--filter <expr>", "extra filter, e.g. \"tags.validated = 'true'\"")
        .option("--max-results <n>", "show at most n versions", positiveInt("--max-results"), 1000),
    ),
    "mloop models versions fraud",
  ).action(async (name: string, opts: CommonOptions & { filter?: string; maxResults: number }) => {
    const registry = registryFor(opts);
    const quoted = `'${name.replace(/'/g, "\\'")}'`;
    const filter = opts.filter ? `name = ${quoted} AND ${opts.filter}` : `name = ${quoted}`;
    const versions = await collectPages((pageToken) => registry.searchModelVersions({ filter, orderBy: ["version_number DESC"], maxResults: Math.min(opts.maxResults, 10_000), pageToken }), opts.maxResults);
    if (opts.json) return printJson(versions);
    if (versions.length === 0) {
      await registry.getRegisteredModel(name); // a missing model is an error, an empty one is not
    }
    printTable(["VERSION", "STAGE", "ALIASES", "RUN ID", "CREATED", "SOURCE"], versionRows(versions));
  });

  withExamples(
    withCommonOptions(
      group
        .command("register")
        .description("Register a model version from runs:/<run_id>/<path>, models:/<model_id> or models:/<name>/<version>; creates the registered model if needed")
        .argument("<source>", "model URI")
        .requiredOption("-n, --name <name>", "registered model name")
        .option("--run-id <id>", "run that produced the model (taken from runs:/ URIs)")
        .option("--model-id <id>", "logged model id (MLflow 3)")
        .option("-d, --description <text>", "version description")
        .option("-t, --tag <key=value>", "version tag (repeatable)", collect),
    ),
    "mloop models register runs:/0123abcd/model --name fraud",
    "mloop models register models:/m-0123abcd --name fraud --tag validated=true",
  ).action(async (source: string, opts: CommonOptions & { name: string; runId?: string; modelId?: string; description?: string; tag?: string[] }) => {
    const registry = registryFor(opts);
    let modelId = opts.modelId;
    const lm = /^models:\/(m-[0-9a-f]{32})$/.exec(source);
    if (!modelId && lm) modelId = lm[1];
    const mv = await registry.registerModel(source, opts.name, {
      runId: opts.runId,
      modelId,
      description: opts.description,
      tags: Object.fromEntries((opts.tag ?? []).map(parseTag)),
    });
    if (opts.json) return printJson(mv);
    out(`Registered version ${mv.version} of '${mv.name}' from ${mv.source}`);
  });

  const alias = group.command("alias").description("Point aliases such as 'champion' at versions");
  withExamples(alias, "mloop models alias set fraud champion 3", "mloop models alias delete fraud champion");
  withExamples(
    withCommonOptions(alias.command("set").description("Point an alias at a version").argument("<name>", "registered model name").argument("<alias>", "alias, e.g. champion").argument("<version>", "version number")),
    "mloop models alias set fraud champion 3",
  ).action(async (name: string, aliasName: string, version: string, opts: CommonOptions) => {
    const v = versionArg(version);
    await registryFor(opts).setAlias(name, aliasName, v);
    if (opts.json) return printJson({ name, alias: aliasName, version: v });
    out(`Alias '${aliasName}' of '${name}' now points at version ${v}`);
  });
  withExamples(
    withCommonOptions(alias.command("delete").description("Remove an alias").argument("<name>", "registered model name").argument("<alias>", "alias")),
    "mloop models alias delete fraud champion",
  ).action(async (name: string, aliasName: string, opts: CommonOptions) => {
    await registryFor(opts).deleteAlias(name, aliasName);
    if (opts.json) return printJson({ name, alias: aliasName, deleted: true });
    out(`Deleted alias '${aliasName}' of '${name}'`);
  });

  withExamples(
    withCommonOptions(
      group
        .command("stage")
        .description("Move a version to a stage (None, Staging, Production, Archived)")
        .argument("<name>", "registered model name")
        .argument("<version>", "version number")
        .argument("<stage>", "None, Staging, Production or Archived")
        .option("--archive-existing", "archive the versions currently in that stage"),
    ),
    "mloop models stage fraud 3 Production --archive-existing",
  ).action(async (name: string, version: string, stageRaw: string, opts: CommonOptions & { archiveExisting?: boolean }) => {
    const stage = parseStage(stageRaw);
    const mv = await registryFor(opts).transitionStage(name, versionArg(version), stage, { archiveExisting: !!opts.archiveExisting });
    if (opts.json) return printJson(mv);
    out(`Version ${mv.version} of '${mv.name}' is now in stage ${mv.current_stage}`);
  });

  withExamples(
    withCommonOptions(
      group
        .command("download")
        .description("Download a version's files (a version number or --alias; default: the newest version)")
        .argument("<name>", "registered model name")
        .argument("[version]", "version number")
        .option("-a, --alias <alias>", "alias, e.g. champion")
        .option("-d, --dst <dir>", "destination folder (default ./<name>-v<version>)"),
    ),
    "mloop models download fraud --alias champion -d ./model",
    "mloop models download fraud 3",
  ).action(async (name: string, versionRaw: string | undefined, opts: CommonOptions & { alias?: string; dst?: string }) => {
    if (versionRaw && opts.alias) throw new CliError("give a version or --alias, not both");
    const registry = registryFor(opts);
    let version: string;
    if (versionRaw) version = versionArg(versionRaw);
    else if (opts.alias) version = (await registry.getVersionByAlias(name, opts.alias)).version;
    else {
      const page = await registry.searchModelVersions({ filter: `name = '${name.replace(/'/g, "\\'")}'`, orderBy: ["version_number DESC"], maxResults: 1 });
      if (!page.items[0]) throw new CliError(`registered model '${name}' has no versions`);
      version = page.items[0].version;
    }
    const dst = path.resolve(opts.dst ?? `${name}-v${version}`);
    const progress = transferProgress(`${name} v${version}`);
    try {
      await registry.downloadModelVersion(name, version, dst, { onProgress: progress.onProgress });
    } finally {
      progress.stop();
    }
    if (opts.json) return printJson({ name, version, path: dst });
    out(`Downloaded version ${version} of '${name}' to ${dst}`);
  });

  withExamples(
    withCommonOptions(
      group
        .command("delete")
        .description("Delete a registered model with all its versions, or only the version given")
        .argument("<name>", "registered model name")
        .argument("[version]", "delete only this version"),
    ),
    "mloop models delete fraud 2",
    "mloop models delete fraud",
  ).action(async (name: string, versionRaw: string | undefined, opts: CommonOptions) => {
    const registry = registryFor(opts);
    if (versionRaw) {
      const v = versionArg(versionRaw);
      await registry.deleteModelVersion(name, v);
      if (opts.json) return printJson({ name, version: v, deleted: true });
      out(`Deleted version ${v} of '${name}'`);
    } else {
      await registry.deleteRegisteredModel(name);
      if (opts.json) return printJson({ name, deleted: true });
      out(`Deleted registered model '${name}'`);
    }
  });
}
