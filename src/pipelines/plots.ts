/**
 * `mloop plots diff`: the plots of a pipeline (stage `plots:` files and
 * top-level `plots:` definitions with x/y/template) at several revisions,
 * drawn in one chart per plot with one series per revision, rendered to SVG
 * by Vega-Lite and Vega (what DVC's plot templates are) without a browser.
 */
import fs from "node:fs";
import path from "node:path";
import { parseParamsText } from "./params.js";
import type { Revision } from "./revisions.js";
import type { Pipeline } from "./spec.js";

export interface PlotDef {
  id: string;
  /** File → y fields (empty: pick the last numeric column). */
  files: { file: string; y: string[] }[];
  x?: string;
  template: string;
  title?: string;
  xLabel?: string;
  yLabel?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asList(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string");
  return [];
}

/** The plot definitions of a pipeline. */
export function plotDefs(p: Pipeline | undefined): PlotDef[] {
  if (!p) return [];
  const defs: PlotDef[] = [];
  for (const s of p.stages) {
    for (const o of s.outs.filter((x) => x.kind === "plots")) {
      const e = o.extra;
      defs.push({
        id: o.rel,
        files: [{ file: o.rel, y: asList(e.y) }],
        x: typeof e.x === "string" ? e.x : undefined,
        template: typeof e.template === "string" ? e.template : "linear",
        title: typeof e.title === "string" ? e.title : undefined,
        xLabel: typeof e.x_label === "string" ? e.x_label : undefined,
        yLabel: typeof e.y_label === "string" ? e.y_label : undefined,
      });
    }
  }
  for (const entry of p.plots) {
    if (typeof entry === "string") {
      if (!defs.some((d) => d.id === entry)) defs.push({ id: entry, files: [{ file: entry, y: [] }], template: "linear" });
      continue;
    }
    if (!isRecord(entry)) continue;
    for (const [id, raw] of Object.entries(entry)) {
      const cfg = isRecord(raw) ? raw : {};
      let files: PlotDef["files"];
      if (isRecord(cfg.y)) files = Object.entries(cfg.y).map(([file, y]) => ({ file, y: asList(y) }));
      else files = [{ file: id, y: asList(cfg.y) }];
      const x = typeof cfg.x === "string" ? cfg.x : isRecord(cfg.x) ? asList(Object.values(cfg.x)[0])[0] : undefined;
      const def: PlotDef = { id, files, x, template: typeof cfg.template === "string" ? cfg.template : "linear", title: typeof cfg.title === "string" ? cfg.title : undefined, xLabel: typeof cfg.x_label === "string" ? cfg.x_label : undefined, yLabel: typeof cfg.y_label === "string" ? cfg.y_label : undefined };
      const i = defs.findIndex((d) => d.id === id);
      if (i >= 0) defs[i] = def;
      else defs.push(def);
    }
  }
  return defs;
}

/** Rows of a plot file: CSV/TSV, or JSON/YAML holding a list (or a dictionary with one list). */
export function plotRows(text: string, file: string): Record<string, unknown>[] {
  const data = parseParamsText(text, file);
  const values = Object.values(data);
  if (values.length > 0 && Object.keys(data).every((k) => /^\d+$/.test(k))) return values.filter(isRecord);
  const list = values.find((v) => Array.isArray(v));
  if (Array.isArray(list)) return list.filter(isRecord);
  return isRecord(data) && Object.keys(data).length ? [data] : [];
}

export interface RenderedPlot {
  id: string;
  /** Absolute path of the SVG. */
  svg: string;
  /** Revisions that had data for it. */
  revisions: string[];
}

function slug(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^_+|_+$/g, "") || "plot";
}

/** The Vega-Lite spec of one plot over the revisions' rows. */
export function plotSpec(def: PlotDef, revs: Revision[]): { spec: Record<string, unknown>; revisions: string[] } | undefined {
  const values: Record<string, unknown>[] = [];
  const had: string[] = [];
  let yName = "value";
  const xName = def.x ?? "step";
  for (const rev of revs) {
    let any = false;
    for (const f of def.files) {
      const text = rev.read(f.file);
      if (text === undefined) continue;
      let rows: Record<string, unknown>[];
      try {
        rows = plotRows(text, f.file);
      } catch {
        continue;
      }
      if (rows.length === 0) continue;
      const numeric = Object.keys(rows[0]!).filter((k) => k !== xName && rows.every((r) => typeof r[k] === "number"));
      const ys = f.y.length ? f.y : numeric.slice(-1);
      if (ys.length === 1) yName = ys[0]!;
      rows.forEach((r, i) => {
        for (const y of ys) {
          if (typeof r[y] !== "number") continue;
          values.push({ x: def.x ? r[def.x] : (r.step ?? i), y: r[y], rev: rev.name, series: def.files.length > 1 || ys.length > 1 ? `${rev.name}: ${f.file} ${y}` : rev.name });
        }
      });
      any = true;
    }
    if (any) had.push(rev.name);
  }
  if (values.length === 0) return undefined;
  const mark = def.template === "scatter" ? { type: "point" } : def.template === "bar_horizontal" || def.template === "bar" ? { type: "bar" } : { type: "line", point: true };
  const xType = values.every((v) => typeof v.x === "number") ? "quantitative" : "nominal";
  return {
    revisions: had,
    spec: {
      $schema: "https://vega.github.io/schema/vega-lite/v5.json",
      title: def.title ?? def.id,
      width: 480,
      height: 300,
      data: { values },
      mark,
      encoding: {
        x: { field: "x", type: xType, title: def.xLabel ?? xName },
        y: { field: "y", type: "quantitative", title: def.yLabel ?? yName },
        color: { field: "series", type: "nominal", title: "revision" },
      },
    },
  };
}

/** Renders every plot of the revisions' pipelines into `outDir` as SVG files. */
export async function renderPlots(revs: Revision[], outDir: string): Promise<RenderedPlot[]> {
  const defs = new Map<string, PlotDef>();
  for (const r of revs) for (const d of plotDefs(r.pipeline)) if (!defs.has(d.id)) defs.set(d.id, d);
  if (defs.size === 0) return [];
  const [vega, vl] = await Promise.all([import("vega"), import("vega-lite")]);
  fs.mkdirSync(outDir, { recursive: true });
  const out: RenderedPlot[] = [];
  for (const def of defs.values()) {
    const built = plotSpec(def, revs);
    if (!built) continue;
    const compiled = vl.compile(built.spec as unknown as Parameters<typeof vl.compile>[0]).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: "none" });
    const svg = await view.toSVG();
    view.finalize();
    const file = path.join(outDir, `${slug(def.id)}.svg`);
    fs.writeFileSync(file, svg);
    out.push({ id: def.id, svg: file, revisions: built.revisions });
  }
  return out;
}
