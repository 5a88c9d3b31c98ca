import { invalidParameter } from "../errors.js";
import type { KeyValue } from "../wire/index.js";

/** MLflow's registry limits and name rules. */
export const REGISTRY_LIMITS = {
  tagKey: 250,
  tagValue: 100_000,
  alias: 255,
  searchModelsDefault: 100,
  searchModelsMax: 1000,
  searchVersionsDefault: 10_000,
  searchVersionsMax: 200_000,
  searchLoggedModelsDefault: 100,
  searchLoggedModelsMax: 1000,
};

const missing = (name: string) => invalidParameter(`Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`);

function pathNotUnique(name: string): boolean {
  const norm = name.split("/").filter((p) => p !== "" && p !== ".");
  return norm.join("/") !== name || name.split("/").includes("..") || name.startsWith("/");
}

export function validateModelName(name: unknown, field = "name"): string {
  if (typeof name !== "string" || name.trim() === "") throw missing(field);
  if (name.includes("/") || name.includes(":")) throw invalidParameter(`Invalid model name '${name}'. Names cannot contain '/' or ':'.`);
  if (name.length > 500) throw invalidParameter(`Invalid model name '${name.slice(0, 50)}…': at most 500 characters`);
  return name;
}

export function validateVersion(v: unknown): number {
  const s = typeof v === "number" ? String(v) : typeof v === "string" ? v.trim() : "";
  if (s === "") throw missing("version");
  if (!/^\d{1,15}$/.test(s)) throw invalidParameter(`Parameter 'version' must be an integer, got '${String(v)}'.`);
  return Number(s);
}

export function validateAlias(alias: unknown): string {
  if (typeof alias !== "string" || alias === "") throw invalidParameter("Registered model alias name cannot be empty.");
  if (!/^[\w-]*$/.test(alias)) throw invalidParameter(`Invalid alias name: '${alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-).`);
  if (alias.length > REGISTRY_LIMITS.alias) throw invalidParameter(`Registered model alias name '${alias.slice(0, 50)}…' exceeds the maximum length of ${REGISTRY_LIMITS.alias}`);
  return alias;
}

/** Aliases that would shadow `models:/name/latest` or version references are reserved. */
export function validateAliasNotReserved(alias: string): void {
  if (alias.toLowerCase() === "latest") throw invalidParameter("'latest' alias name (case insensitive) is reserved.");
  if (/^[vV]\d+$/.test(alias)) throw invalidParameter(`Version alias name '${alias}' is reserved.`);
}

export function validateTag(key: unknown, value: string): asserts key is string {
  if (typeof key !== "string" || key === "") throw missing("key");
  if (!/^[\w\-./ :]+$/.test(key)) {
    throw invalidParameter(`Invalid value "${key}" for parameter 'key' supplied: Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).`);
  }
  if (pathNotUnique(key)) throw invalidParameter(`Invalid value "${key}" for parameter 'key' supplied: Names may be treated as files in certain cases, and must not resolve to other names when treated as such.`);
  if (key.length > REGISTRY_LIMITS.tagKey) throw invalidParameter(`'key' exceeds the maximum length of ${REGISTRY_LIMITS.tagKey} characters`);
  if (value.length > REGISTRY_LIMITS.tagValue) throw invalidParameter(`'value' exceeds the maximum length of ${REGISTRY_LIMITS.tagValue} characters`);
}

export function validateTags(tags: KeyValue[]): void {
  for (const t of tags) validateTag(t.key, t.value);
}

export function validateMaxResults(n: number | undefined, def: number, max: number): number {
  if (n === undefined) return def;
  if (n < 1) throw invalidParameter(`Invalid value for max_results. It must be a positive integer, but got ${n}`);
  if (n > max) throw invalidParameter(`Invalid value for max_results. It must be at most ${max}, but got ${n}`);
  return n;
}

/** Logged model names end up in paths and URIs. */
export function validateLoggedModelName(name: string | undefined): void {
  if (name === undefined) return;
  if (name === "" || /[/:.%"']/.test(name)) {
    throw invalidParameter(`Invalid model name ('${name}') provided. Model name must be a non-empty string and cannot contain the following characters: ('/', ':', '.', '%', '"', "'")`);
  }
}
