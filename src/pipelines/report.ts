/**
 * `mloop report --base main`: params, metrics and plots of the workspace
 * against a base revision, as Markdown (for a pull-request comment, the plots
 * as SVG files beside it) and as one self-contained HTML file (SVG inline).
 */
import fs from "node:fs";
import path from "node:path";
import { diffValues, readMetrics, readParams, show, type DiffRow } from "./metrics.js";
import { renderPlots, type RenderedPlot } from "./plots.js";
import { openRevision, WORKSPACE } from "./revisions.js";

export interface Report {
  markdown: string;
  html: string;
  metrics: DiffRow[];
  params: DiffRow[];
  plots: RenderedPlot[];
  /** Where report.md, report.html and plots/ were written. */
  dir: string;
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function change(r: DiffRow): string {
  if (r.change === undefined) return r.old === undefined ? "new" : r.new === undefined ? "deleted" : "changed";
  return r.change > 0 ? `+${r.change}` : String(r.change);
}

/** Builds the report of `target` (default the workspace) against `base` and writes it into `outDir`. */
export async function buildReport(root: string, base: string, outDir: string, target = WORKSPACE): Promise<Report> {
  const a = openRevision(root, base);
  const b = openRevision(root, target);
  const metrics = diffValues(readMetrics(a), readMetrics(b), true);
  const params = diffValues(readParams(a), readParams(b), false);
  const dir = path.resolve(outDir);
  const plots = await renderPlots([a, b], path.join(dir, "plots"));
  const baseName = `${base}${a.commit ? ` (${a.commit.slice(0, 7)})` : ""}`;
  const md: string[] = [`## mloop report: \`${target}\` against \`${baseName}\``, ""];
  md.push("### Metrics", "");
  if (metrics.length === 0) md.push("No metrics.", "");
  else {
    md.push(`| Path | Metric | ${cell(base)} | ${cell(target)} | Change |`, "| --- | --- | ---: | ---: | ---: |");
    for (const r of metrics) md.push(`| ${cell(r.path)} | ${cell(r.key)} | ${cell(show(r.old))} | ${cell(show(r.new))} | ${r.change === 0 ? "0" : change(r)} |`);
    md.push("");
  }
  md.push("### Params", "");
  if (params.length === 0) md.push("No params changed.", "");
  else {
    md.push(`| Path | Param | ${cell(base)} | ${cell(target)} |`, "| --- | --- | --- | --- |");
    for (const r of params) md.push(`| ${cell(r.path)} | ${cell(r.key)} | ${cell(show(r.old))} | ${cell(show(r.new))} |`);
    md.push("");
  }
  md.push("### Plots", "");
  if (plots.length === 0) md.push("No plots.", "");
  for (const p of plots) md.push(`#### ${p.id}`, "", `![${p.id}](${path.relative(dir, p.svg).split(path.sep).join("/")})`, "");
  const markdown = md.join("\n");

  const table = (rows: DiffRow[], withChange: boolean) =>
    `<table><thead><tr><th>Path</th><th>Key</th><th>${esc(base)}</th><th>${esc(target)}</th>${withChange ? "<th>Change</th>" : ""}</tr></thead><tbody>${rows
      .map((r) => `<tr><td>${esc(r.path)}</td><td>${esc(r.key)}</td><td>${esc(show(r.old))}</td><td>${esc(show(r.new))}</td>${withChange ? `<td>${esc(r.change === 0 ? "0" : change(r))}</td>` : ""}</tr>`)
      .join("")}</tbody></table>`;
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>mloop report</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}th{background:#f4f4f4}</style>
</head><body>
<h2>mloop report: ${esc(target)} against ${esc(baseName)}</h2>
<h3>Metrics</h3>${metrics.length ? table(metrics, true) : "<p>No metrics.</p>"}
<h3>Params</h3>${params.length ? table(params, false) : "<p>No params changed.</p>"}
<h3>Plots</h3>${plots.length ? plots.map((p) => `<h4>${esc(p.id)}</h4>${fs.readFileSync(p.svg, "utf8")}`).join("\n") : "<p>No plots.</p>"}
</body></html>
`;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "report.md"), markdown);
  fs.writeFileSync(path.join(dir, "report.html"), html);
  return { markdown, html, metrics, params, plots, dir };
}
