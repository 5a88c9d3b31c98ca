/**
 * The closed loop's HTTP side on the tracking server: deployments, their
 * controller state (compare-and-set transitions), the event of every
 * decision, and leases. Controllers (`mloop deploy apply`) and the CLI's
 * `status`/`history`/`retrain`/`rollback` speak to these.
 */
import type { FastifyInstance } from "fastify";
import { invalidParameter } from "../errors.js";
import { DeploymentStore, isDeploymentState, type DeploymentEvent, type DeploymentRecord } from "../retraining/index.js";
import type {
  AcquireLeaseResponse,
  DeploymentEventInfo,
  DeploymentInfo,
  GetDeploymentResponse,
  ListDeploymentEventsResponse,
  ListDeploymentsResponse,
  ServedVersionInfo,
} from "../wire/index.js";
import type { DomainDeps } from "./deps.js";
import { MLOOP_PREFIXES } from "./monitoring.js";
import { input, optInt, reqInt, reqString, type Input } from "./params.js";
import { mlflowRoute } from "./routing.js";

export function deploymentInfo(d: DeploymentRecord, aliases: Record<string, string> = {}): DeploymentInfo {
  return { name: d.name, state: d.state, context: d.context, revision: d.revision, spec: d.spec, created_at: d.createdAt, updated_at: d.updatedAt, served: servedVersions(d, aliases) };
}

interface StoredSpec {
  model?: { name?: unknown; alias?: unknown };
  rollout?: { mode?: unknown; share?: unknown; challengerAlias?: unknown };
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/**
 * The versions serving now, from the stored state: the champion (`@alias`)
 * answers everything, except during a canary, when the challenger (the
 * candidate in the context) answers `rollout.share` of requests; in shadow it
 * answers none and gets a copy of every request. `aliases` maps the model's aliases
 * to versions (the registry's), for the champion outside of the evaluation.
 */
export function servedVersions(d: DeploymentRecord, aliases: Record<string, string>): ServedVersionInfo[] {
  const spec = (d.spec && typeof d.spec === "object" ? d.spec : {}) as StoredSpec;
  const alias = str(spec.model?.alias) ?? "champion";
  const champion: ServedVersionInfo = { role: "champion", alias, version: aliases[alias] ?? str(d.context.champion_version) ?? null, share: 1, mode: "serving" };
  if (d.state !== "canary") return [champion];
  const share = typeof spec.rollout?.share === "number" && spec.rollout.share >= 0 && spec.rollout.share <= 1 ? spec.rollout.share : 0.1;
  const challengerAlias = str(spec.rollout?.challengerAlias) ?? "challenger";
  const version = str(d.context.candidate_version) ?? aliases[challengerAlias] ?? null;
  // The server mirrors every request the champion answers to a shadow (rollout.share is not used).
  if (spec.rollout?.mode === "shadow") return [champion, { role: "challenger", alias: challengerAlias, version, share: 0, mode: "shadow", shadow_share: 1 }];
  return [{ ...champion, share: 1 - share, mode: "canary" }, { role: "challenger", alias: challengerAlias, version, share, mode: "canary" }];
}

export function eventInfo(e: DeploymentEvent): DeploymentEventInfo {
  return { seq: e.seq, timestamp_ms: e.timestampMs, from_state: e.fromState, to_state: e.toState, reason: e.reason, data: e.data };
}

function objectField(inp: Input, name: string): Record<string, unknown> | undefined {
  const v = inp[name];
  if (v === undefined) return undefined;
  if (!v || typeof v !== "object" || Array.isArray(v)) throw invalidParameter(`'${name}' must be an object`);
  return v as Record<string, unknown>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function nameOf(inp: Input, field = "name"): string {
  const name = reqString(inp, field);
  if (!NAME.test(name)) throw invalidParameter(`'${field}' must be letters, digits, '.', '_' or '-' (at most 100), got '${name.slice(0, 120)}'`);
  return name;
}

/** `/api/2.0/mloop/deployments/...` (and under `/ajax-api/`). */
export function registerRetraining(app: FastifyInstance, deps: DomainDeps): { deployments: DeploymentStore } {
  const store = new DeploymentStore(deps.db);
  /** The registry's aliases of each deployment's model (one query). */
  const withServed = async (records: DeploymentRecord[]): Promise<DeploymentInfo[]> => {
    const names = [...new Set(records.map((d) => str((d.spec as StoredSpec | null)?.model?.name)).filter((n): n is string => n !== undefined))];
    const byModel = new Map<string, Record<string, string>>();
    if (names.length > 0) {
      const rows = await deps.db.all<{ name: string; alias: string; version: string | number }>(
        `SELECT name, alias, version FROM registered_model_aliases WHERE name IN (${names.map(() => "?").join(", ")})`,
        names,
      );
      for (const r of rows) byModel.set(r.name, { ...(byModel.get(r.name) ?? {}), [r.alias]: String(r.version) });
    }
    return records.map((d) => deploymentInfo(d, byModel.get(str((d.spec as StoredSpec | null)?.model?.name) ?? "") ?? {}));
  };
  const one = async (d: DeploymentRecord): Promise<DeploymentInfo> => (await withServed([d]))[0]!;
  const route = <R>(method: "GET" | "POST", path: string, handler: Parameters<typeof mlflowRoute<R>>[3]) => mlflowRoute<R>(app, method, path, handler, MLOOP_PREFIXES);

  route<GetDeploymentResponse>("POST", "deployments/apply", async (req) => {
    const inp = input(req);
    if (inp.spec === undefined) throw invalidParameter("Missing value for required parameter 'spec'.");
    return { deployment: await one(await store.apply(nameOf(inp), inp.spec)) };
  });
  route<GetDeploymentResponse>("GET", "deployments/get", async (req) => ({ deployment: await one(await store.get(nameOf(input(req)))) }));
  route<ListDeploymentsResponse>("GET", "deployments/list", async () => ({ deployments: await withServed(await store.list()) }));
  route<ListDeploymentEventsResponse>("GET", "deployments/events/list", async (req) => {
    const inp = input(req);
    const name = nameOf(inp);
    await store.get(name);
    const afterSeq = optInt(inp, "after_seq");
    const limit = optInt(inp, "max_results");
    if (limit !== undefined && (limit < 1 || limit > 10_000)) throw invalidParameter("'max_results' must be between 1 and 10000");
    return { events: (await store.events(name, { ...(afterSeq !== undefined ? { afterSeq } : {}), ...(limit !== undefined ? { limit } : {}) })).map(eventInfo) };
  });
  route<GetDeploymentResponse>("POST", "deployments/transition", async (req) => {
    const inp = input(req);
    const to = reqString(inp, "to_state");
    if (!isDeploymentState(to)) throw invalidParameter(`'to_state' must be a deployment state, got '${to.slice(0, 40)}'`);
    const context = objectField(inp, "context");
    const data = objectField(inp, "data");
    const d = await store.transition(nameOf(inp), reqInt(inp, "revision"), to, reqString(inp, "reason"), { ...(context ? { context } : {}), ...(data ? { data } : {}) });
    return { deployment: await one(d) };
  });
  route<GetDeploymentResponse>("POST", "deployments/update-context", async (req) => {
    const inp = input(req);
    const context = objectField(inp, "context");
    if (!context) throw invalidParameter("Missing value for required parameter 'context'.");
    return { deployment: await one(await store.updateContext(nameOf(inp), reqInt(inp, "revision"), context)) };
  });
  route<AcquireLeaseResponse>("POST", "deployments/leases/acquire", async (req) => {
    const inp = input(req);
    const name = nameOf(inp);
    const purpose = reqString(inp, "purpose");
    const holder = reqString(inp, "holder");
    const ttl = reqInt(inp, "ttl_ms");
    if (ttl < 1 || ttl > 86_400_000) throw invalidParameter("'ttl_ms' must be between 1 and 86400000");
    const acquired = await store.acquireLease(name, purpose, holder, ttl);
    return { acquired, holder: acquired ? holder : ((await store.leaseHolder(name, purpose)) ?? null) };
  });
  route<Record<string, never>>("POST", "deployments/leases/release", async (req) => {
    const inp = input(req);
    await store.releaseLease(nameOf(inp), reqString(inp, "purpose"), reqString(inp, "holder"));
    return {};
  });
  return { deployments: store };
}
