import { useCallback, useEffect, useRef, useState } from "react";
import { errorMessage, type KeyValue, type Run } from "./api.js";

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change; keeps the last data while reloading; ignores stale answers. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => mine === seq.current && setState({ data, loading: false }),
      (err: unknown) => mine === seq.current && setState({ error: errorMessage(err), loading: false }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function tagMap(tags: KeyValue[] | undefined): Map<string, string> {
  return new Map((tags ?? []).map((t) => [t.key, t.value]));
}

export function formatTime(ms: number | undefined): string {
  if (!ms) return "";
  const d = new Date(Number(ms));
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.floor(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function runDuration(run: Run, now = Date.now()): number | undefined {
  const start = run.info.start_time ? Number(run.info.start_time) : undefined;
  if (!start) return undefined;
  const end = run.info.end_time ? Number(run.info.end_time) : run.info.status === "RUNNING" ? now : undefined;
  return end === undefined ? undefined : end - start;
}

export function formatValue(v: number | string | undefined): string {
  if (v === undefined || v === null) return "";
  const n = typeof v === "number" ? v : Number(v);
  if (typeof v === "string" && (v.trim() === "" || !Number.isFinite(n))) return v;
  if (!Number.isFinite(n)) return String(v);
  if (Number.isInteger(n)) return String(n);
  const a = Math.abs(n);
  if (a !== 0 && (a < 1e-4 || a >= 1e6)) return n.toExponential(4);
  return String(Number(n.toPrecision(6)));
}

export function formatBytes(n: number | string | undefined): string {
  const b = Number(n ?? 0);
  if (!Number.isFinite(b)) return "";
  if (b < 1024) return `${b} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = b / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function shortHash(commit: string | undefined): string {
  return commit ? commit.slice(0, 7) : "";
}

export function runName(run: Run): string {
  return run.info.run_name || tagMap(run.data.tags).get("mlflow.runName") || run.info.run_id.slice(0, 8);
}

/** Column spec in the runs table and compare views: `params.lr`, `metrics.loss`, `tags.team`. */
export type ColumnKind = "params" | "metrics" | "tags";
export interface Column {
  kind: ColumnKind;
  key: string;
}

export function columnId(c: Column): string {
  return `${c.kind}.${c.key}`;
}

export function parseColumnId(id: string): Column | undefined {
  const m = /^(params|metrics|tags)\.(.+)$/.exec(id);
  return m ? { kind: m[1] as ColumnKind, key: m[2]! } : undefined;
}

export function columnValue(run: Run, c: Column): string | number | undefined {
  const list = c.kind === "params" ? run.data.params : c.kind === "metrics" ? run.data.metrics : run.data.tags;
  const hit = (list as { key: string; value: string | number }[] | undefined)?.find((x) => x.key === c.key);
  return hit?.value;
}

/** An identifier in the search language: bare when it can be, backquoted otherwise. */
export function quoteKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.]*$/.test(key) ? key : "`" + key.replace(/`/g, "") + "`";
}

export function usePolling(active: boolean, fn: () => void, ms: number): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    if (!active) return;
    const id = window.setInterval(() => {
      if (document.visibilityState === "visible") ref.current();
    }, ms);
    return () => window.clearInterval(id);
  }, [active, ms]);
}

export const SERIES_COLORS = ["#1f4fd1", "#d9480f", "#2b8a3e", "#ae3ec9", "#e8590c", "#0b7285", "#c2255c", "#5f3dc4", "#5c940d", "#364fc7"];
