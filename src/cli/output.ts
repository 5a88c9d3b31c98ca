/**
 * What the tracking commands share: the client built from `--tracking-uri`
 * (or MLFLOW_TRACKING_URI), aligned tables or `--json`, colour only on a
 * terminal, and transfer progress bars only on an interactive stderr.
 */
import type cliProgressTypes from "cli-progress";
import { Option, type Command } from "commander";
import { resolveTrackingUri } from "../config.js";
import { MloopClient, type TransferProgress } from "../client/index.js";
import { CliError } from "./errors.js";

export interface CommonOptions {
  trackingUri?: string;
  json?: boolean;
}

/** Adds `--tracking-uri` and `--json` to a command. */
export function withCommonOptions(cmd: Command): Command {
  return cmd
    .option("--tracking-uri <uri>", "tracking server URL (MLFLOW_TRACKING_URI); default http://127.0.0.1:5000")
    .option("--json", "print machine-readable JSON instead of a table");
}

/**
 * Keeps commander's own errors on one line: its "(Did you mean …?)"
 * suggestion joins the error line. Subcommands created afterwards inherit it.
 */
export function oneLineErrors(cmd: Command): Command {
  return cmd.configureOutput({
    outputError: (str, write) => write(`${str.replace(/\s*\n\(Did you mean (.+?)\?\)/, " (did you mean $1?)").trimEnd()}\n`),
  });
}

/** Adds `Example:` lines to a command's `--help`. */
export function withExamples(cmd: Command, ...examples: string[]): Command {
  return cmd.addHelpText("after", `\nExample${examples.length > 1 ? "s" : ""}:\n${examples.map((e) => `  ${e}`).join("\n")}\n`);
}

/** The `--view` option of list commands. */
export function viewOption(): Option {
  return new Option("--view <view>", "which to list").choices(["active_only", "deleted_only", "all"]).default("active_only");
}

export function clientFor(opts: CommonOptions): MloopClient {
  const uri = resolveTrackingUri(opts.trackingUri);
  try {
    return new MloopClient({ trackingUri: uri, maxRetries: 3 });
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
}

/** Parses a positive integer option, or fails with one line. */
export function positiveInt(name: string): (raw: string) => number {
  return (raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new CliError(`${name} must be a positive integer, got '${raw}'`);
    return n;
  };
}

/** Collects a repeatable option into a list. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function out(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

function colourOn(): boolean {
  // hasColors() honours NO_COLOR and FORCE_COLOR itself.
  return !!process.stdout.isTTY && typeof process.stdout.hasColors === "function" && process.stdout.hasColors();
}

const codes = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] } as const;
export type Style = keyof typeof codes;

/** `text` in a colour when stdout is a terminal, plain otherwise. */
export function paint(style: Style, text: string): string {
  if (!colourOn()) return text;
  const [open, close] = codes[style];
  return `\u001b[${open}m${text}\u001b[${close}m`;
}

const ANSI = /\u001b\[[0-9;]*m/g;

/** Width of a cell as shown: escape codes take no room, and East Asian wide characters count two. */
function visibleWidth(s: string): number {
  let w = 0;
  for (const ch of s.replace(ANSI, "")) {
    const cp = ch.codePointAt(0)!;
    w += cp >= 0x1100 && (cp <= 0x115f || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0x1f300 && cp <= 0x1faff)) ? 2 : 1;
  }
  return w;
}

/**
 * Prints rows under a header, columns aligned, two spaces apart.
 * Cells are single-line: newlines and tabs show as spaces.
 */
export function printTable(headers: string[], rows: string[][]): void {
  const clean = rows.map((r) => r.map((c) => c.replace(/[\r\n\t]+/g, " ")));
  const widths = headers.map((h, i) => Math.max(visibleWidth(h), ...clean.map((r) => visibleWidth(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(widths[i]! - visibleWidth(c))))
      .join("  ")
      .trimEnd();
  out(paint("bold", line(headers)));
  for (const r of clean) out(line(r));
}

/** Prints `key  value` pairs, keys aligned. */
export function printPairs(pairs: [string, string][]): void {
  const width = Math.max(0, ...pairs.map(([k]) => visibleWidth(k)));
  for (const [k, v] of pairs) out(`${paint("dim", k + ":")}${" ".repeat(width - visibleWidth(k) + 1)} ${v}`);
}

/** `2026-11-28 10:55:13` in local time, or `-`. */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined || ms === null || !Number.isFinite(Number(ms)) || Number(ms) <= 0) return "-";
  const d = new Date(Number(ms));
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** `1.2s`, `3m04s`, `2h05m`, or `-`. */
export function formatDuration(start: number | undefined, end: number | undefined): string {
  if (!start || !end || end < start) return "-";
  const s = (Number(end) - Number(start)) / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** `1.5 MB` */
export function formatBytes(n: number | undefined): string {
  if (n === undefined) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

export function paintStatus(status: string): string {
  return status === "FINISHED" ? paint("green", status) : status === "FAILED" || status === "KILLED" ? paint("red", status) : paint("yellow", status);
}

/**
 * A progress callback for artifact transfers that shows a bar on stderr only
 * when stderr is a terminal and the transfer has already taken a second.
 * Call `stop()` when the transfer ends.
 */
export function transferProgress(label: string): { onProgress: (p: TransferProgress) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { onProgress: () => undefined, stop: () => undefined };
  const started = Date.now();
  // Loaded only for an interactive transfer, so other commands start faster.
  let lib: typeof cliProgressTypes | undefined;
  void import("cli-progress").then((m) => (lib = (m as { default?: typeof cliProgressTypes }).default ?? (m as unknown as typeof cliProgressTypes)), () => undefined);
  let bar: cliProgressTypes.SingleBar | undefined;
  let last: TransferProgress | undefined;
  const onProgress = (p: TransferProgress) => {
    last = p;
    if (!bar) {
      if (!lib || Date.now() - started < 1000) return;
      bar = new lib.SingleBar(
        {
          stream: process.stderr,
          format: `${label} [{bar}] {percentage}% {doneBytes}/{allBytes} {doneFiles}/{allFiles} files ETA {eta_formatted}`,
          barsize: 20,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 50,
        },
        lib.Presets.shades_classic,
      );
      bar.start(Math.max(1, p.totalBytes), 0, payload(p));
    }
    bar.update(Math.min(p.bytes, Math.max(1, p.totalBytes)), payload(p));
  };
  return {
    onProgress,
    stop: () => {
      if (bar && last) bar.update(Math.min(last.bytes, Math.max(1, last.totalBytes)), payload(last));
      bar?.stop();
    },
  };
}

function payload(p: TransferProgress): Record<string, string | number> {
  // cli-progress reserves `total` and `value`; these names are ours.
  return { doneBytes: formatBytes(p.bytes), allBytes: formatBytes(p.totalBytes), doneFiles: p.files, allFiles: p.totalFiles };
}
