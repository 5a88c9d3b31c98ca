import type { SqlExecutor, SqlValue } from "../store/index.js";
import type { KeyValue } from "../wire/index.js";

/** What the registry's stores share: a compiled search (see `search-tables.ts`) and small row helpers. */
export interface SqlQuery {
  where: string;
  params: SqlValue[];
  order: string;
}

export interface SqlFragment {
  sql: string;
  params: SqlValue[];
}

/** More work a store runs inside its own transaction, before it commits (the webhook outbox's write). */
export type InTx = (tx: SqlExecutor) => Promise<void>;

export const placeholders = (n: number): string => Array.from({ length: n }, () => "?").join(",");

/** NULL columns become absent fields, as MLflow's JSON leaves them out. */
export function opt<T>(v: T | null | undefined): T | undefined {
  return v === null || v === undefined ? undefined : v;
}

/** The last value wins when a request names a key twice. */
export function dedupe(list: KeyValue[]): KeyValue[] {
  const m = new Map<string, string>();
  for (const kv of list) m.set(kv.key, kv.value);
  return [...m].map(([key, value]) => ({ key, value }));
}

/** Rows grouped by a key, in their order. */
export function groupBy<T>(list: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of list) {
    const k = key(r);
    let l = m.get(k);
    if (!l) m.set(k, (l = []));
    l.push(r);
  }
  return m;
}
