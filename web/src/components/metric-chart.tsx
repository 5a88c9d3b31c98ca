import { useEffect, useMemo, useRef, useState } from "react";
import uPlot from "uplot";
import * as api from "../api.js";
import { SERIES_COLORS, formatValue, usePolling } from "../util.js";

export type XMode = "step" | "wall" | "relative";

export interface ChartRun {
  id: string;
  name: string;
  startTime?: number;
}

export interface ChartSettings {
  xMode: XMode;
  smoothing: number;
  logY: boolean;
}

/** Points requested per chart: the server samples long histories down to this, keeping first, last, min and max. */
const SAMPLE = 1000;

/** Exponential moving average with the start-up bias removed (TensorBoard's smoothing). */
export function smooth(ys: (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return ys;
  let last = 0;
  let n = 0;
  return ys.map((y) => {
    if (y === null || !Number.isFinite(y)) return y;
    last = last * weight + (1 - weight) * y;
    n++;
    return last / (1 - Math.pow(weight, n));
  });
}

function toNumber(v: number | string): number | null {
  const n = typeof v === "number" ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

function buildData(metrics: api.RunMetric[], runs: ChartRun[], s: ChartSettings): uPlot.AlignedData {
  const byRun = new Map<string, api.RunMetric[]>();
  for (const m of metrics) {
    const id = m.run_id ?? runs[0]?.id ?? "";
    let arr = byRun.get(id);
    if (!arr) byRun.set(id, (arr = []));
    arr.push(m);
  }
  const tables: uPlot.AlignedData[] = [];
  for (const r of runs) {
    const ms = byRun.get(r.id) ?? [];
    const start = r.startTime ?? (ms.length ? Math.min(...ms.map((m) => Number(m.timestamp))) : 0);
    const xOf = (m: api.RunMetric) => (s.xMode === "step" ? Number(m.step ?? 0) : s.xMode === "wall" ? Number(m.timestamp) / 1000 : (Number(m.timestamp) - start) / 1000);
    const pts = ms.map((m) => [xOf(m), toNumber(m.value)] as [number, number | null]).sort((a, b) => a[0] - b[0]);
    let ys = pts.map((p) => p[1]);
    if (s.logY) ys = ys.map((y) => (y !== null && y > 0 ? y : null));
    ys = smooth(ys, s.smoothing);
    tables.push([pts.map((p) => p[0]), ys] as unknown as uPlot.AlignedData);
  }
  if (tables.length === 1) return tables[0]!;
  if (tables.length === 0) return [[]];
  return uPlot.join(tables);
}

/**
 * One metric for one or more runs, from the sampled bulk-interval endpoint.
 * Dragging over a step range refetches that range at full resolution.
 */
export function MetricChart({
  runs,
  metricKey,
  settings,
  live = false,
  height = 240,
  title,
  onFirstDraw,
}: {
  runs: ChartRun[];
  metricKey: string;
  settings: ChartSettings;
  live?: boolean;
  height?: number;
  title?: string;
  onFirstDraw?: () => void;
}) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const [metrics, setMetrics] = useState<api.RunMetric[]>();
  const [error, setError] = useState<string>();
  const [range, setRange] = useState<[number, number]>();
  const [tick, setTick] = useState(0);
  const runIds = runs.map((r) => r.id).join(",");
  const firstDraw = useRef(onFirstDraw);
  firstDraw.current = onFirstDraw;

  useEffect(() => setRange(undefined), [runIds, metricKey, settings.xMode]);

  useEffect(() => {
    const ctl = new AbortController();
    api
      .getSampledHistory(runIds.split(",").slice(0, 100), metricKey, { maxResults: SAMPLE, startStep: range?.[0], endStep: range?.[1] }, ctl.signal)
      .then(
        (m) => {
          setMetrics(m);
          setError(undefined);
        },
        (err: unknown) => !ctl.signal.aborted && setError(api.errorMessage(err)),
      );
    return () => ctl.abort();
  }, [runIds, metricKey, range, tick]);

  usePolling(live, () => setTick((t) => t + 1), 3000);

  const runsKey = JSON.stringify(runs);
  const data = useMemo(
    () => (metrics ? buildData(metrics, runs, settings) : undefined),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [metrics, runsKey, settings.xMode, settings.smoothing, settings.logY],
  );
  const shape = `${runsKey}|${settings.xMode}|${settings.logY}|${height}`;

  useEffect(() => {
    if (!el.current || !data) return;
    if (plot.current && plot.current.series.length === data.length && (plot.current as uPlot & { _shape?: string })._shape === shape) {
      plot.current.setData(data, !range);
      return;
    }
    plot.current?.destroy();
    const stepMode = settings.xMode === "step";
    const opts: uPlot.Options = {
      width: Math.max(200, el.current.clientWidth),
      height,
      scales: {
        x: { time: settings.xMode === "wall" },
        y: settings.logY ? { distr: 3 } : {},
      },
      cursor: { drag: { x: true, y: false, setScale: !stepMode } },
      legend: { live: true },
      axes: [
        { stroke: "#5b6473", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#d5d9e0" }, label: settings.xMode === "step" ? "step" : settings.xMode === "relative" ? "seconds since start" : undefined, labelSize: 18, size: 40 },
        { stroke: "#5b6473", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#d5d9e0" }, size: 64, values: (_u, vals) => vals.map((v) => formatValue(v)) },
      ],
      series: [
        { label: settings.xMode === "step" ? "step" : "time", value: (_u, v) => (v === null || v === undefined ? "—" : settings.xMode === "wall" ? new Date(v * 1000).toLocaleString() : formatValue(v)) },
        ...runs.map((r, i) => ({
          label: r.name,
          stroke: SERIES_COLORS[i % SERIES_COLORS.length],
          width: 1.5,
          spanGaps: true,
          // Sparse series (a handful of logged values) would be invisible as lines: draw their points.
          points: { show: (_u: uPlot, _si: number, i0: number, i1: number) => i1 - i0 < 60, size: 6 },
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? "—" : formatValue(v)),
        })),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (!stepMode || u.select.width < 4) return;
            const lo = Math.floor(u.posToVal(u.select.left, "x"));
            const hi = Math.ceil(u.posToVal(u.select.left + u.select.width, "x"));
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            if (hi > lo) setRange([lo, hi]);
          },
        ],
      },
    };
    const u = new uPlot(opts, data, el.current);
    (u as uPlot & { _shape?: string })._shape = shape;
    plot.current = u;
    firstDraw.current?.();
    firstDraw.current = undefined;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data, shape]);

  useEffect(() => {
    const node = el.current;
    if (!node) return;
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, node.clientWidth), height }));
    ro.observe(node);
    return () => ro.disconnect();
  }, [height]);

  useEffect(() => () => plot.current?.destroy(), []);

  const empty = metrics && metrics.length === 0;
  return (
    <figure className="chart" aria-label={`Chart of ${metricKey}`} data-metric={metricKey} data-points={metrics?.length ?? 0}>
      <figcaption>
        <span className="chart-title">{title ?? metricKey}</span>
        {range && (
          <button type="button" className="small" onClick={() => setRange(undefined)}>
            Reset zoom (steps {range[0]}–{range[1]})
          </button>
        )}
      </figcaption>
      {error && (
        <div className="error-box" role="alert">
          {error}
        </div>
      )}
      {empty && <p className="muted">No values{range ? " in this range" : ""}.</p>}
      <div ref={el} className="chart-canvas" />
    </figure>
  );
}

export function ChartControls({ settings, onChange }: { settings: ChartSettings; onChange: (s: ChartSettings) => void }) {
  return (
    <div className="chart-controls" role="group" aria-label="Chart settings">
      <label>
        X axis{" "}
        <select value={settings.xMode} onChange={(e) => onChange({ ...settings, xMode: e.target.value as XMode })}>
          <option value="step">Step</option>
          <option value="wall">Wall time</option>
          <option value="relative">Relative time</option>
        </select>
      </label>
      <label>
        Smoothing{" "}
        <input type="range" min={0} max={0.99} step={0.01} value={settings.smoothing} onChange={(e) => onChange({ ...settings, smoothing: Number(e.target.value) })} />
        <output className="mono">{settings.smoothing.toFixed(2)}</output>
      </label>
      <label className="check">
        <input type="checkbox" checked={settings.logY} onChange={(e) => onChange({ ...settings, logY: e.target.checked })} /> Log scale
      </label>
    </div>
  );
}

/** Chart settings kept in the URL (`x`, `smooth`, `log`). */
export function settingsFromQuery(q: URLSearchParams): ChartSettings {
  const x = q.get("x");
  const sm = Number(q.get("smooth") ?? 0);
  return {
    xMode: x === "wall" || x === "relative" ? x : "step",
    smoothing: Number.isFinite(sm) ? Math.min(0.99, Math.max(0, sm)) : 0,
    logY: q.get("log") === "1",
  };
}

export function settingsToQuery(s: ChartSettings): Record<string, string | undefined> {
  return { x: s.xMode === "step" ? undefined : s.xMode, smooth: s.smoothing > 0 ? String(s.smoothing) : undefined, log: s.logY ? "1" : undefined };
}
