/**
 * Reports: the JSON document (the drift report, with the performance and
 * operations of a window when there is one) and a self-contained HTML page of
 * the same: per column the test, the statistic, the threshold, the verdict and
 * the reference and current distributions as inline SVG (no script, no CDN).
 */
import type { ColumnDrift, DriftReport } from "./drift.js";
import type { WindowResult } from "./monitor.js";
import type { PerformanceReport } from "./performance.js";

export interface ReportDocument {
  format: "mloop-monitoring-report";
  version: 1;
  generated_at: string;
  reference?: string;
  current?: string;
  model?: string;
  window?: { seq: number; start_ms: number; end_ms: number };
  data_drift: DriftReport;
  prediction_drift?: ColumnDrift | null;
  performance?: PerformanceReport;
  operations?: WindowResult["operations"];
  issues: string[];
}

/** The JSON report of a batch comparison. */
export function batchReport(drift: DriftReport, sources: { reference?: string; current?: string } = {}): ReportDocument {
  const doc: ReportDocument = { format: "mloop-monitoring-report", version: 1, generated_at: new Date().toISOString(), data_drift: drift, issues: [...drift.issues] };
  if (sources.reference) doc.reference = sources.reference;
  if (sources.current) doc.current = sources.current;
  return doc;
}

/** The JSON report of one monitor window. */
export function windowReport(w: WindowResult, model: string): ReportDocument {
  return {
    format: "mloop-monitoring-report",
    version: 1,
    generated_at: new Date().toISOString(),
    model,
    window: { seq: w.seq, start_ms: w.start_ms, end_ms: w.end_ms },
    data_drift: w.drift,
    prediction_drift: w.prediction_drift,
    performance: w.performance,
    operations: w.operations,
    issues: [...w.issues, ...w.drift.issues],
  };
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function num(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined) return "—";
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6)) return x.toExponential(2);
  return x.toFixed(digits).replace(/\.?0+$/, "") || "0";
}

/** Reference (grey) and current (red) shares per bin, side by side, as an SVG. */
function plotSvg(c: ColumnDrift): string {
  const p = c.plot;
  const ref = p.reference;
  const cur = p.current;
  const n = ref.length;
  if (n === 0) return '<svg width="360" height="40"><text x="4" y="24" font-size="12">no values</text></svg>';
  const W = 360;
  const H = 120;
  const max = Math.max(...ref, ...cur, 1e-12);
  const bw = W / n;
  const bars: string[] = [];
  for (let i = 0; i < n; i++) {
    const hr = (ref[i]! / max) * (H - 20);
    const hc = (cur[i]! / max) * (H - 20);
    const label = p.kind === "bars" ? esc(p.categories[i]!) : `${num(p.edges[i])} – ${num(p.edges[i + 1])}`;
    bars.push(`<rect x="${(i * bw).toFixed(1)}" y="${(H - 20 - hr).toFixed(1)}" width="${(bw / 2).toFixed(1)}" height="${hr.toFixed(1)}" fill="#9aa5b1"><title>${label}: reference ${(ref[i]! * 100).toFixed(1)}%</title></rect>`);
    bars.push(`<rect x="${(i * bw + bw / 2).toFixed(1)}" y="${(H - 20 - hc).toFixed(1)}" width="${(bw / 2).toFixed(1)}" height="${hc.toFixed(1)}" fill="#d9534f"><title>${label}: current ${(cur[i]! * 100).toFixed(1)}%</title></rect>`);
  }
  const axis =
    p.kind === "histogram"
      ? `<text x="0" y="${H - 4}" font-size="10">${num(p.edges[0])}</text><text x="${W}" y="${H - 4}" font-size="10" text-anchor="end">${num(p.edges[p.edges.length - 1])}</text>`
      : `<text x="0" y="${H - 4}" font-size="10">${esc(p.categories.slice(0, 6).join(", "))}${p.categories.length > 6 ? ", …" : ""}</text>`;
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img">${bars.join("")}<line x1="0" y1="${H - 20}" x2="${W}" y2="${H - 20}" stroke="#333"/>${axis}</svg>`;
}

function columnRow(c: ColumnDrift): string {
  const verdict = !c.tested ? '<span class="na">not tested</span>' : c.drift_detected ? '<span class="bad">drift</span>' : '<span class="ok">no drift</span>';
  return `<tr><td><b>${esc(c.column)}</b><br><small>${c.kind}</small></td><td>${verdict}</td><td>${esc(c.method_name ?? "—")}</td><td>${num(c.drift_score)}</td><td>${num(c.stattest_threshold)}</td><td>${num(c.statistic)}</td>
<td><small>ref ${c.reference.count} values, ${(c.reference.missing_share * 100).toFixed(1)}% missing<br>cur ${c.current.count} values, ${(c.current.missing_share * 100).toFixed(1)}% missing</small></td>
<td>${plotSvg(c)}</td><td><small>${c.issues.map(esc).join("<br>")}</small></td></tr>`;
}

/** A self-contained HTML page of a report. */
export function renderHtml(doc: ReportDocument, title = "mloop monitoring report"): string {
  const d = doc.data_drift;
  const perf = doc.performance;
  const perfHtml = perf
    ? `<h2>Live performance</h2><p>${perf.labelled_rows} labelled row(s)${perf.label_delay_median_s !== null ? `, median label delay ${num(perf.label_delay_median_s, 1)} s` : ""}${perf.task ? `, ${perf.task}` : ""}.</p>
<table><tr>${Object.keys(perf.metrics).map((k) => `<th>${esc(k)}</th>`).join("")}</tr><tr>${Object.values(perf.metrics).map((v) => `<td>${num(v)}</td>`).join("")}</tr></table>`
    : "";
  const ops = doc.operations;
  const opsHtml = ops
    ? `<h2>Operations</h2><table><tr><th>version</th><th>requests</th><th>errors</th><th>error rate</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr>${Object.entries(ops.versions)
        .map(([v, o]) => `<tr><td>${esc(v)}</td><td>${o.requests}</td><td>${o.errors}</td><td>${num(o.error_rate)}</td><td>${num(o.latency_p50_ms, 2)}</td><td>${num(o.latency_p95_ms, 2)}</td><td>${num(o.latency_p99_ms, 2)}</td></tr>`)
        .join("")}</table><p>${num(ops.request_rate_per_s, 2)} requests/s</p>`
    : "";
  const pred = doc.prediction_drift ? `<h2>Prediction drift</h2><table>${HEAD}${columnRow(doc.prediction_drift)}</table>` : "";
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left}
.bad,.ok,.na{color:#fff;padding:1px 6px;border-radius:3px;white-space:nowrap}.bad{background:#d9534f}.ok{background:#5cb85c}.na{background:#999}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}</style></head><body>
<h1>${esc(title)}</h1>
<p>Generated ${esc(doc.generated_at)}${doc.model ? ` for <b>${esc(doc.model)}</b>` : ""}${doc.window ? `, window ${doc.window.seq} (${new Date(doc.window.start_ms).toISOString()} – ${new Date(doc.window.end_ms).toISOString()})` : ""}.
${doc.reference ? `Reference: <code>${esc(doc.reference)}</code>. ` : ""}${doc.current ? `Current: <code>${esc(doc.current)}</code>.` : ""}</p>
<h2>Data drift: ${d.dataset_drift ? '<span class="bad">dataset drift detected</span>' : '<span class="ok">no dataset drift</span>'}</h2>
<p>${d.number_of_drifted_columns} of ${d.number_of_tested_columns} tested column(s) drifted (share ${num(d.share_of_drifted_columns)}; the dataset drifts at ${num(d.drift_share)}). Reference ${d.reference_rows} rows, current ${d.current_rows} rows.</p>
<p class="legend"><span style="background:#9aa5b1"></span>reference<span style="background:#d9534f"></span>current</p>
${doc.issues.length ? `<ul>${doc.issues.map((i) => `<li>${esc(i)}</li>`).join("")}</ul>` : ""}
<table>${HEAD}${d.columns.map(columnRow).join("\n")}</table>
${pred}${perfHtml}${opsHtml}
</body></html>
`;
}

const HEAD = "<tr><th>column</th><th>verdict</th><th>test</th><th>score</th><th>threshold</th><th>statistic</th><th>values</th><th>distribution</th><th>notes</th></tr>";
