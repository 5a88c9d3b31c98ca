/**
 * The GraphQL engine behind `/graphql` (graphql-js, the schema, the resolvers): loaded by
 * `graphql.ts` on the first GraphQL request, so the server starts without it.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  buildSchema,
  execute,
  GraphQLEnumType,
  GraphQLError,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type GraphQLFieldResolver,
  type GraphQLOutputType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValueNode,
} from "graphql";
import type { GraphqlConfig } from "../config.js";
import { invalidParameter, missingParameter, MlflowError } from "../errors.js";
import type { ResultScope } from "../paging.js";
import { permissionDenied, type AuthService, type Principal } from "../auth/index.js";
import type { RegistryServices } from "../registry/index.js";
import { parseViewType, type TrackingServices } from "../tracking/index.js";
import type { Run } from "../wire/index.js";
import { listRunArtifacts } from "./artifacts.js";
import { INTERNAL_ERROR_MESSAGE } from "./error-handler.js";
import { GRAPHQL_SDL } from "./graphql-schema.js";

/** MLflow's fixed limits on a query's shape (`graphql_no_batching.py`); the root-field and alias limits are configurable. */
export const MAX_DEPTH = 10;
export const MAX_SELECTIONS = 1000;
/** Lexer tokens one document may have: the selection limit is met long before, and a huge document is refused before it is parsed. */
const MAX_TOKENS = 50_000;

/** What one request's resolvers may read: with auth on, only the caller's readable experiments and registered models. */
interface Access {
  /** Refuses (PERMISSION_DENIED) unless the caller may read the experiment. */
  experiment(experimentId: string): Promise<void>;
  /** The experiments of the list the caller may read. */
  readable(experimentIds: string[]): Promise<string[]>;
  /** The registered models a model-version search may show (undefined: all). */
  modelScope(): Promise<ResultScope | undefined>;
}

const OPEN: Access = {
  experiment: async () => undefined,
  readable: async (ids) => ids,
  modelScope: async () => undefined,
};

export function accessOf(auth: AuthService | undefined, who: Principal | undefined): Access {
  if (!auth) return OPEN;
  // The route's rule (auth-rules.ts) only lets signed-in callers in.
  if (!who) throw permissionDenied();
  if (who.isAdmin) return OPEN;
  let scope: Promise<ResultScope | undefined> | undefined;
  return {
    experiment: async (id) => {
      if (!(await auth.can(who, "experiment", id, "read"))) throw permissionDenied();
    },
    readable: async (ids) => {
      const out: string[] = [];
      for (const id of ids) if (await auth.can(who, "experiment", id, "read")) out.push(id);
      return out;
    },
    modelScope: () => (scope ??= auth.readScope(who, "registered_model")),
  };
}

export interface Context {
  app: FastifyInstance;
  tracking: TrackingServices;
  registry: RegistryServices;
  access: Access;
}

type Args = { input?: Record<string, unknown> | null; inputString?: string | null };
type Resolver = GraphQLFieldResolver<any, Context, Args>;

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
const int = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);

async function runExperiment(ctx: Context, runId: string): Promise<void> {
  await ctx.access.experiment((await ctx.tracking.runs.locate(runId)).experimentId);
}

/** MLflow's `SearchRuns` through GraphQL: unreadable experiments are dropped, as the REST route's rule drops them. */
const searchRuns: Resolver = async (_root, { input }, ctx) => {
  const asked = list(input?.experimentIds);
  const experimentIds = await ctx.access.readable(asked);
  if (asked.length > 0 && experimentIds.length === 0) return { runs: [] };
  const res = await ctx.tracking.runs.search({
    experimentIds,
    filter: str(input?.filter),
    viewType: parseViewType(str(input?.runViewType)),
    maxResults: int(input?.maxResults),
    orderBy: list(input?.orderBy),
    pageToken: str(input?.pageToken),
  });
  return { runs: res.runs, next_page_token: res.nextPageToken };
};

/** The resolvers by type and field; every other field reads its snake_case twin from the REST message. */
const RESOLVERS: Record<string, Record<string, Resolver>> = {
  Query: {
    test: (_root, { inputString }) => ({ output: inputString ?? null }),
    mlflowGetExperiment: async (_root, { input }, ctx) => {
      const id = str(input?.experimentId);
      if (!id) throw missingParameter("experiment_id");
      await ctx.access.experiment(id);
      return { experiment: await ctx.tracking.experiments.get(id) };
    },
    mlflowGetRun: async (_root, { input }, ctx) => {
      const id = str(input?.runId) ?? str(input?.runUuid);
      if (!id) throw missingParameter("run_id");
      await runExperiment(ctx, id);
      return { run: await ctx.tracking.runs.get(id) };
    },
    mlflowSearchRuns: searchRuns,
    mlflowGetMetricHistoryBulkInterval: async (_root, { input }, ctx) => {
      const runIds = list(input?.runIds);
      if (runIds.length === 0) throw missingParameter("run_ids");
      const key = str(input?.metricKey);
      if (!key) throw missingParameter("metric_key");
      for (const id of new Set(runIds)) await runExperiment(ctx, id);
      const metrics = await ctx.tracking.runs.metricHistoryInterval(runIds, key, int(input?.startStep), int(input?.endStep), int(input?.maxResults));
      return { metrics };
    },
    mlflowListArtifacts: async (_root, { input }, ctx) => {
      const id = str(input?.runId) ?? str(input?.runUuid);
      if (!id) throw missingParameter("run_id");
      await runExperiment(ctx, id);
      const path = input?.path;
      return listRunArtifacts(ctx.app, id, typeof path === "string" ? path : undefined);
    },
    mlflowSearchModelVersions: async (_root, { input }, ctx) => {
      const orderBy = list(input?.orderBy);
      return ctx.registry.models.searchModelVersions({
        filter: str(input?.filter),
        maxResults: int(input?.maxResults),
        orderBy: orderBy.length > 0 ? orderBy : undefined,
        pageToken: str(input?.pageToken),
        scope: await ctx.access.modelScope(),
      });
    },
  },
  Mutation: {
    testMutation: (_root, { inputString }) => ({ output: inputString ?? null }),
    mlflowSearchRuns: searchRuns,
    mlflowSearchDatasets: async (_root, { input }, ctx) => {
      const asked = list(input?.experimentIds);
      const experimentIds = await ctx.access.readable(asked);
      if (asked.length > 0 && experimentIds.length === 0) return { dataset_summaries: [] };
      return { dataset_summaries: await ctx.tracking.runs.searchDatasets(experimentIds) };
    },
  },
  MlflowRunExtension: {
    // The run was readable, so its experiment is.
    experiment: async (run: Run, _args, ctx) => ctx.tracking.experiments.get(run.info.experiment_id),
    modelVersions: async (run: Run, _args, ctx) => {
      const res = await ctx.registry.models.searchModelVersions({
        filter: `run_id = '${run.info.run_id.replace(/'/g, "")}'`,
        scope: await ctx.access.modelScope(),
      });
      return res.model_versions;
    },
  },
  // A GraphQL Float cannot carry NaN or ±Infinity (the REST messages spell them "NaN", "Infinity"): they read as null.
  MlflowMetricExtension: { value: (m: { value?: unknown }) => finite(m.value) },
  MlflowMetricWithRunId: { value: (m: { value?: unknown }) => finite(m.value) },
  MlflowModelMetric: { value: (m: { value?: unknown }) => finite(m.value) },
};

function finite(v: unknown): number | null {
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
}

/** `LongString`: 64-bit integers as decimal strings on the way out; integers (or their strings) on the way in. */
function configureLongString(scalar: GraphQLScalarType): void {
  scalar.serialize = (v: unknown) => {
    if (typeof v === "bigint" || typeof v === "number" || typeof v === "string") return String(v);
    throw new GraphQLError(`LongString cannot represent value: ${String(v)}`);
  };
  const fromValue = (v: unknown): number => {
    const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n)) throw new GraphQLError(`LongString cannot represent value: ${JSON.stringify(v)}`);
    return n;
  };
  scalar.parseValue = fromValue;
  scalar.parseLiteral = (node: ValueNode) => {
    if (node.kind === Kind.INT || node.kind === Kind.STRING) return fromValue(node.value);
    throw new GraphQLError("LongString must be an integer");
  };
}

/**
 * What a field MLflow builds from a protobuf message reads when the message leaves it unset:
 * proto2's defaults ("" , 0, false, the first enum value, an empty message or list). mloop's REST
 * messages omit such fields, so the GraphQL answers would otherwise differ in nulls.
 */
function protoDefault(type: GraphQLOutputType): unknown {
  const inner = type instanceof GraphQLNonNull ? type.ofType : type;
  if (inner instanceof GraphQLList) return [];
  if (inner instanceof GraphQLEnumType) return inner.getValues()[0]?.value ?? null;
  if (inner instanceof GraphQLScalarType) {
    switch (inner.name) {
      case "String":
        return "";
      case "Boolean":
        return false;
      case "Int":
      case "Float":
      case "LongString":
        return 0;
      default:
        return null;
    }
  }
  if (inner instanceof GraphQLObjectType && inner.name !== "ApiError") return {};
  return null;
}

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const defaultResolver: GraphQLFieldResolver<unknown, Context> = (source, _args, _ctx, info) => {
  if (source === null || typeof source !== "object") return null;
  const obj = source as Record<string, unknown>;
  const v = obj[snake(info.fieldName)] ?? obj[info.fieldName];
  return v === undefined || v === null ? protoDefault(info.returnType) : v;
};

/** The schema with mloop's resolvers attached. Built once per process. */
let built: GraphQLSchema | undefined;
export function graphqlSchema(): GraphQLSchema {
  if (built) return built;
  const schema = buildSchema(GRAPHQL_SDL);
  configureLongString(schema.getType("LongString") as GraphQLScalarType);
  for (const [typeName, fields] of Object.entries(RESOLVERS)) {
    const type = schema.getType(typeName);
    if (!(type instanceof GraphQLObjectType)) throw new Error(`GraphQL schema has no object type ${typeName}`);
    const defs = type.getFields();
    for (const [name, resolve] of Object.entries(fields)) {
      if (!defs[name]) throw new Error(`GraphQL type ${typeName} has no field ${name}`);
      defs[name].resolve = resolve;
    }
  }
  built = schema;
  return schema;
}

/**
 * MLflow's guard against batching and oversized queries (`check_query_safety`), in the same order
 * and with the same messages: depth over {@link MAX_DEPTH} or more than {@link MAX_SELECTIONS}
 * fields while walking the document, then too many root fields, then too many aliases in one
 * selection set. Fields inside inline fragments count where they stand (MLflow skips them).
 */
export function checkQuerySafety(doc: DocumentNode, limits: GraphqlConfig): string | undefined {
  let rootFields = 0;
  let maxAliases = 0;
  let total = 0;
  for (const def of doc.definitions) {
    if (!("selectionSet" in def) || !def.selectionSet) continue;
    const stack: [SelectionSetNode, number][] = [[def.selectionSet, 1]];
    while (stack.length > 0) {
      const [set, depth] = stack.pop()!;
      if (depth > MAX_DEPTH) return `Query exceeds maximum depth of ${MAX_DEPTH}`;
      let aliases = 0;
      const selections = [...set.selections];
      for (let i = 0; i < selections.length; i++) {
        const sel = selections[i]!;
        if (sel.kind === Kind.INLINE_FRAGMENT) {
          selections.push(...sel.selectionSet.selections);
          continue;
        }
        if (sel.kind !== Kind.FIELD) continue;
        if (depth === 1) rootFields++;
        if (sel.alias) aliases++;
        if (sel.selectionSet) stack.push([sel.selectionSet, depth + 1]);
        total++;
        if (total > MAX_SELECTIONS) return `Query exceeds maximum total selections of ${MAX_SELECTIONS}`;
      }
      maxAliases = Math.max(maxAliases, aliases);
    }
  }
  const over = (what: string, env: string, limit: number, got: number) =>
    `GraphQL queries should have at most ${limit} ${what}, got ${got} ${what}. To increase the limit, set the ${env} environment variable.`;
  if (rootFields > limits.maxRootFields) return over("root fields", "MLOOP_GRAPHQL_MAX_ROOT_FIELDS", limits.maxRootFields, rootFields);
  if (maxAliases > limits.maxAliases) return over("aliases", "MLOOP_GRAPHQL_MAX_ALIASES", limits.maxAliases, maxAliases);
  return undefined;
}

/** MLflow's answer: `data`, and `errors` as a list of messages (null when there are none). */
export interface GraphqlResponse {
  data: Record<string, unknown> | null;
  errors: string[] | null;
}

export interface GraphqlRequest {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
}

/** The request's `query`, `variables` and `operationName`: the JSON body of a POST, or the query string of a GET. */
export function readRequest(req: FastifyRequest): GraphqlRequest {
  const src = req.method === "POST" ? req.body : req.query;
  if (src === undefined || src === null || typeof src !== "object" || Array.isArray(src)) {
    throw invalidParameter("GraphQL requests must be a JSON object with a 'query' field");
  }
  const o = src as Record<string, unknown>;
  const query = o.query;
  if (typeof query !== "string" || query.trim() === "") throw missingParameter("query");
  let variables = o.variables;
  if (typeof variables === "string" && req.method === "GET") {
    try {
      variables = variables === "" ? undefined : JSON.parse(variables);
    } catch {
      throw invalidParameter("Invalid value for parameter 'variables': it must be a JSON object");
    }
  }
  if (variables !== undefined && variables !== null && (typeof variables !== "object" || Array.isArray(variables))) {
    throw invalidParameter("Invalid value for parameter 'variables': it must be a JSON object");
  }
  const operationName = o.operationName;
  if (operationName !== undefined && operationName !== null && typeof operationName !== "string") {
    throw invalidParameter("Invalid value for parameter 'operationName': it must be a string");
  }
  return { query, variables: (variables ?? undefined) as Record<string, unknown> | undefined, operationName: operationName ?? undefined };
}

/** A resolver's failure as the client sees it: MLflow's message; anything unexpected is logged and not described. */
function messageOf(err: GraphQLError, log: (err: unknown) => void): string {
  const original = err.originalError;
  if (!original || original instanceof GraphQLError) return err.message;
  if (original instanceof MlflowError) return original.message;
  log(original);
  return INTERNAL_ERROR_MESSAGE;
}

/** Runs one GraphQL request against the services, as MLflow's `/graphql` handler does. */
export async function runGraphql(ctx: Context, request: GraphqlRequest, limits: GraphqlConfig, log: (err: unknown) => void): Promise<GraphqlResponse> {
  let doc: DocumentNode;
  try {
    doc = parse(request.query, { maxTokens: MAX_TOKENS });
  } catch (err) {
    if (err instanceof GraphQLError) return { data: null, errors: [err.message] };
    throw err;
  }
  const unsafe = checkQuerySafety(doc, limits);
  if (unsafe) return { data: null, errors: [unsafe] };
  const schema = graphqlSchema();
  const invalid = validate(schema, doc);
  if (invalid.length > 0) return { data: null, errors: invalid.map((e) => e.message) };
  const result = await execute({
    schema,
    document: doc,
    variableValues: request.variables,
    operationName: request.operationName,
    contextValue: ctx,
    fieldResolver: defaultResolver,
  });
  return {
    data: (result.data as Record<string, unknown> | null | undefined) ?? null,
    errors: result.errors && result.errors.length > 0 ? result.errors.map((e) => messageOf(e, log)) : null,
  };
}
