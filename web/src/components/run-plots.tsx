/** Plots of many runs against their params and metrics: parallel coordinates and a scatter (the compare page; later model and deployment comparisons). */
import type * as api from "../api.js";
import { SERIES_COLORS, columnValue, formatValue, runName, type Column } from "../util.js";

/** A param or metric value as a number, if it is one. */
export function numeric(v: string | number | undefined): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

interface Axis {
  label: string;
  values: (string | number | undefined)[];
  pos: (v: string | number | undefined) => number | undefined;
  ticks: { v: number; label: string }[];
}

function makeAxis(label: string, values: (string | number | undefined)[], height: number): Axis {
  const nums = values.map(numeric);
  const allNumeric = values.every((v, i) => v === undefined || nums[i] !== undefined);
  if (allNumeric && nums.some((n) => n !== undefined)) {
    const defined = nums.filter((n): n is number => n !== undefined);
    const lo = Math.min(...defined);
    const hi = Math.max(...defined);
    const span = hi - lo || 1;
    const pos = (v: string | number | undefined) => {
      const n = numeric(v);
      return n === undefined ? undefined : height - ((n - lo) / span) * height;
    };
    const ticks = lo === hi ? [{ v: height / 2, label: formatValue(lo) }] : [0, 0.5, 1].map((f) => ({ v: height - f * height, label: formatValue(lo + f * span) }));
    return { label, values, pos: (v) => (lo === hi ? (numeric(v) === undefined ? undefined : height / 2) : pos(v)), ticks };
  }
  const cats = [...new Set(values.filter((v) => v !== undefined).map(String))].sort();
  const step = cats.length > 1 ? height / (cats.length - 1) : 0;
  const at = (v: string | number | undefined) => {
    if (v === undefined) return undefined;
    const i = cats.indexOf(String(v));
    return cats.length > 1 ? height - i * step : height / 2;
  };
  return { label, values, pos: at, ticks: cats.slice(0, 12).map((c) => ({ v: at(c)!, label: c })) };
}

/** One line per run across the (varying) params, ending at the metric; coloured by the metric. */
export function ParallelCoordinates({ runs, params, metric }: { runs: api.Run[]; params: string[]; metric: string }) {
  const varying = params.filter((p) => new Set(runs.map((r) => columnValue(r, { kind: "params", key: p }))).size > 1);
  const chosen = (varying.length ? varying : params).slice(0, 10);
  const H = 240;
  const W = Math.max(480, (chosen.length + 1) * 140);
  const pad = { top: 30, bottom: 20, left: 60, right: 60 };
  const axes = [
    ...chosen.map((p) => makeAxis(p, runs.map((r) => columnValue(r, { kind: "params", key: p })), H)),
    makeAxis(metric, runs.map((r) => columnValue(r, { kind: "metrics", key: metric })), H),
  ];
  const mVals = runs.map((r) => numeric(columnValue(r, { kind: "metrics", key: metric })));
  const defined = mVals.filter((n): n is number => n !== undefined);
  const lo = Math.min(...defined);
  const hi = Math.max(...defined);
  const color = (n: number | undefined) => {
    if (n === undefined || !defined.length) return "#9aa3b0";
    const t = hi === lo ? 0.5 : (n - lo) / (hi - lo);
    return `hsl(${220 - t * 200}, 75%, 45%)`;
  };
  const xAt = (i: number) => pad.left + (i * (W - pad.left - pad.right)) / Math.max(1, axes.length - 1);
  return (
    <div className="svg-scroll">
      <svg width={W} height={H + pad.top + pad.bottom} role="img" aria-label={`Parallel coordinates of ${chosen.length} parameters against ${metric}`} className="parallel">
        {runs.map((r, ri) => {
          const pts = axes.map((a, i) => {
            const y = a.pos(a.values[ri]);
            return y === undefined ? undefined : `${xAt(i)},${pad.top + y}`;
          });
          const d = pts.filter(Boolean).join(" L");
          return (
            <path key={r.info.run_id} d={`M${d}`} fill="none" stroke={color(mVals[ri])} strokeWidth={2} opacity={0.85}>
              <title>
                {runName(r)}: {metric} = {formatValue(mVals[ri])}
              </title>
            </path>
          );
        })}
        {axes.map((a, i) => (
          <g key={a.label + i} transform={`translate(${xAt(i)},${pad.top})`}>
            <line y1={0} y2={H} stroke="#5b6473" />
            <text y={-12} textAnchor="middle" className={i === axes.length - 1 ? "axis-label metric" : "axis-label"}>
              {a.label}
            </text>
            {a.ticks.map((t, j) => (
              <text key={j} x={-6} y={t.v + 4} textAnchor="end" className="tick">
                {t.label}
              </text>
            ))}
          </g>
        ))}
      </svg>
    </div>
  );
}

/** Runs as points of two numeric columns. */
export function Scatter({ runs, x, y }: { runs: api.Run[]; x: Column; y: Column }) {
  const W = 560;
  const H = 320;
  const pad = { top: 16, right: 20, bottom: 44, left: 70 };
  const pts = runs
    .map((r, i) => ({ r, i, x: numeric(columnValue(r, x)), y: numeric(columnValue(r, y)) }))
    .filter((p): p is { r: api.Run; i: number; x: number; y: number } => p.x !== undefined && p.y !== undefined);
  if (!pts.length) return <p className="muted">No run has numeric values for both columns.</p>;
  const ext = (vs: number[]) => {
    const lo = Math.min(...vs);
    const hi = Math.max(...vs);
    const m = (hi - lo || Math.abs(lo) || 1) * 0.08;
    return [lo - m, hi + m] as const;
  };
  const [x0, x1] = ext(pts.map((p) => p.x));
  const [y0, y1] = ext(pts.map((p) => p.y));
  const sx = (v: number) => pad.left + ((v - x0) / (x1 - x0)) * (W - pad.left - pad.right);
  const sy = (v: number) => pad.top + (1 - (v - y0) / (y1 - y0)) * (H - pad.top - pad.bottom);
  const ticks = (a: number, b: number) => [0, 0.25, 0.5, 0.75, 1].map((f) => a + f * (b - a));
  return (
    <svg width={W} height={H} role="img" aria-label={`Scatter of ${y.key} against ${x.key}`} className="scatter">
      <rect x={pad.left} y={pad.top} width={W - pad.left - pad.right} height={H - pad.top - pad.bottom} fill="#fafbfc" stroke="#d5d9e0" />
      {ticks(x0, x1).map((v, i) => (
        <text key={`x${i}`} x={sx(v)} y={H - pad.bottom + 16} textAnchor="middle" className="tick">
          {formatValue(v)}
        </text>
      ))}
      {ticks(y0, y1).map((v, i) => (
        <text key={`y${i}`} x={pad.left - 6} y={sy(v) + 4} textAnchor="end" className="tick">
          {formatValue(v)}
        </text>
      ))}
      <text x={(W + pad.left) / 2} y={H - 6} textAnchor="middle" className="axis-label">
        {x.key}
      </text>
      <text transform={`translate(14,${(H - pad.bottom) / 2}) rotate(-90)`} textAnchor="middle" className="axis-label">
        {y.key}
      </text>
      {pts.map((p) => (
        <circle key={p.r.info.run_id} cx={sx(p.x)} cy={sy(p.y)} r={6} fill={SERIES_COLORS[p.i % SERIES_COLORS.length]} stroke="#fff" strokeWidth={1.5}>
          <title>
            {runName(p.r)}: {x.key} = {formatValue(p.x)}, {y.key} = {formatValue(p.y)}
          </title>
        </circle>
      ))}
    </svg>
  );
}
