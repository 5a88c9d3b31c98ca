import { useMemo } from "react";
import * as api from "../api.js";
import { Link, setQuery, useLocation, useTitle } from "../router.js";
import { ErrorBox, StatusBadge } from "../components/common.js";
import { ChartControls, MetricChart, settingsFromQuery, settingsToQuery } from "../components/metric-chart.js";
import { SERIES_COLORS, columnId, columnValue, formatDuration, formatTime, formatValue, parseColumnId, runDuration, runName, useLoad, type Column } from "../util.js";

function numeric(v: string | number | undefined): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function ComparePage() {
  const { query } = useLocation();
  const ids = useMemo(() => (query.get("runs") ?? "").split(",").filter(Boolean).slice(0, 100), [query]);
  useTitle(`Compare ${ids.length} runs`);
  const runs = useLoad(() => Promise.all(ids.map((id) => api.getRun(id))), [ids.join(",")]);
  const list = runs.data ?? [];
  const exp = query.get("exp") ?? list[0]?.info.experiment_id;
  const settings = settingsFromQuery(query);

  const keys = useMemo(() => {
    const params = new Set<string>();
    const metrics = new Set<string>();
    const tags = new Set<string>();
    for (const r of list) {
      for (const p of r.data.params ?? []) params.add(p.key);
      for (const m of r.data.metrics ?? []) metrics.add(m.key);
      for (const t of r.data.tags ?? []) if (!t.key.startsWith("mlflow.")) tags.add(t.key);
    }
    return { params: [...params].sort(), metrics: [...metrics].sort(), tags: [...tags].sort() };
  }, [list]);
  const numericColumns: Column[] = useMemo(
    () =>
      [...keys.metrics.map((key) => ({ kind: "metrics" as const, key })), ...keys.params.map((key) => ({ kind: "params" as const, key }))].filter((c) =>
        list.some((r) => numeric(columnValue(r, c)) !== undefined),
      ),
    [keys, list],
  );

  const metric = query.get("metric") ?? keys.metrics[0];
  const chartRuns = useMemo(() => list.map((r) => ({ id: r.info.run_id, name: runName(r), startTime: r.info.start_time ? Number(r.info.start_time) : undefined })), [list]);
  const varying = numericColumns.filter((c) => new Set(list.map((r) => columnValue(r, c))).size > 1);
  const scatterX = parseColumnId(query.get("sx") ?? "") ?? varying.find((c) => c.kind === "params") ?? numericColumns.find((c) => c.kind === "params") ?? numericColumns[0];
  const scatterY = parseColumnId(query.get("sy") ?? "") ?? varying.find((c) => c.kind === "metrics") ?? numericColumns.find((c) => c.kind === "metrics") ?? numericColumns[1];
  const pcMetric = query.get("pm") ?? keys.metrics[0];

  return (
    <main className="page page-wide" id="main">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/">Experiments</Link>
        {exp && (
          <>
            {" "}
            <span aria-hidden="true">›</span> <Link to={`/experiments/${encodeURIComponent(exp)}?sel=${ids.join(",")}`}>Runs</Link>
          </>
        )}{" "}
        <span aria-hidden="true">›</span> <span>Compare</span>
      </nav>
      <h1>Comparing {ids.length} runs</h1>
      <ErrorBox error={runs.error} />
      {ids.length < 2 && <p className="empty">Select at least two runs in an experiment's run table to compare them.</p>}
      {list.length > 0 && (
        <ul className="legend" aria-label="Runs">
          {list.map((r, i) => (
            <li key={r.info.run_id}>
              <span className="swatch" style={{ background: SERIES_COLORS[i % SERIES_COLORS.length] }} aria-hidden="true" />
              <Link to={`/experiments/${encodeURIComponent(r.info.experiment_id)}/runs/${encodeURIComponent(r.info.run_id)}`}>{runName(r)}</Link>
            </li>
          ))}
        </ul>
      )}

      {list.length > 0 && keys.metrics.length > 0 && (
        <section className="card" aria-labelledby="h-curves">
          <div className="card-head">
            <h2 id="h-curves">Metric curves</h2>
            <label>
              Metric{" "}
              <select value={metric} onChange={(e) => setQuery({ metric: e.target.value })}>
                {keys.metrics.map((k) => (
                  <option key={k}>{k}</option>
                ))}
              </select>
            </label>
          </div>
          <ChartControls settings={settings} onChange={(s) => setQuery(settingsToQuery(s))} />
          {metric && <MetricChart runs={chartRuns} metricKey={metric} settings={settings} height={320} />}
        </section>
      )}

      {list.length > 1 && keys.params.length > 0 && pcMetric && (
        <section className="card" aria-labelledby="h-parallel">
          <div className="card-head">
            <h2 id="h-parallel">Parameters → metric</h2>
            <label>
              Metric{" "}
              <select value={pcMetric} onChange={(e) => setQuery({ pm: e.target.value })}>
                {keys.metrics.map((k) => (
                  <option key={k}>{k}</option>
                ))}
              </select>
            </label>
          </div>
          <ParallelCoordinates runs={list} params={keys.params} metric={pcMetric} />
        </section>
      )}

      {list.length > 1 && numericColumns.length >= 1 && scatterX && scatterY && (
        <section className="card" aria-labelledby="h-scatter">
          <div className="card-head">
            <h2 id="h-scatter">Scatter</h2>
            <div className="inline-form">
              <ColumnSelect label="X" value={scatterX} columns={numericColumns} onChange={(c) => setQuery({ sx: columnId(c) })} />
              <ColumnSelect label="Y" value={scatterY} columns={numericColumns} onChange={(c) => setQuery({ sy: columnId(c) })} />
            </div>
          </div>
          <Scatter runs={list} x={scatterX} y={scatterY} />
        </section>
      )}

      {list.length > 0 && (
        <section className="card" aria-labelledby="h-diff">
          <div className="card-head">
            <h2 id="h-diff">Differences</h2>
            <label className="check">
              <input type="checkbox" checked={query.get("diff") === "1"} onChange={(e) => setQuery({ diff: e.target.checked ? "1" : undefined })} /> Only rows that differ
            </label>
          </div>
          <DiffTable runs={list} keys={keys} onlyDiff={query.get("diff") === "1"} />
        </section>
      )}
    </main>
  );
}

function ColumnSelect({ label, value, columns, onChange }: { label: string; value: Column; columns: Column[]; onChange: (c: Column) => void }) {
  return (
    <label>
      {label}{" "}
      <select value={columnId(value)} onChange={(e) => onChange(parseColumnId(e.target.value)!)}>
        {columns.map((c) => (
          <option key={columnId(c)} value={columnId(c)}>
            {c.kind === "metrics" ? "metric" : "param"}: {c.key}
          </option>
        ))}
      </select>
    </label>
  );
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

function ParallelCoordinates({ runs, params, metric }: { runs: api.Run[]; params: string[]; metric: string }) {
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

function Scatter({ runs, x, y }: { runs: api.Run[]; x: Column; y: Column }) {
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

function DiffTable({ runs, keys, onlyDiff }: { runs: api.Run[]; keys: { params: string[]; metrics: string[]; tags: string[] }; onlyDiff: boolean }) {
  type Row = { group: string; label: string; values: string[] };
  const rows: Row[] = [
    { group: "Run", label: "Status", values: runs.map((r) => r.info.status) },
    { group: "Run", label: "Started", values: runs.map((r) => formatTime(r.info.start_time)) },
    { group: "Run", label: "Duration", values: runs.map((r) => formatDuration(runDuration(r))) },
    { group: "Run", label: "User", values: runs.map((r) => r.info.user_id ?? "") },
    ...keys.params.map((k) => ({ group: "Parameters", label: k, values: runs.map((r) => String(columnValue(r, { kind: "params", key: k }) ?? "")) })),
    ...keys.metrics.map((k) => ({ group: "Metrics", label: k, values: runs.map((r) => formatValue(columnValue(r, { kind: "metrics", key: k }))) })),
    ...keys.tags.map((k) => ({ group: "Tags", label: k, values: runs.map((r) => String(columnValue(r, { kind: "tags", key: k }) ?? "")) })),
  ];
  const differs = (r: Row) => new Set(r.values).size > 1;
  const shown = rows.filter((r) => !onlyDiff || differs(r) || r.label === "Status");
  let lastGroup = "";
  return (
    <div className="table-scroll">
      <table className="grid diff">
        <thead>
          <tr>
            <th scope="col">
              <span className="sr-only">Field</span>
            </th>
            {runs.map((r) => (
              <th key={r.info.run_id} scope="col">
                {runName(r)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {shown.map((row) => {
            const head =
              row.group !== lastGroup ? (
                <tr key={`g-${row.group}`} className="group-row">
                  <th colSpan={runs.length + 1} scope="colgroup">
                    {row.group}
                  </th>
                </tr>
              ) : null;
            lastGroup = row.group;
            const d = differs(row);
            return [
              head,
              <tr key={`${row.group}-${row.label}`} className={d ? "differs" : undefined} data-differs={d ? "true" : "false"}>
                <th scope="row">
                  {row.label}
                  {d && <span className="sr-only"> (differs)</span>}
                </th>
                {row.values.map((v, i) => (
                  <td key={i} className="mono">
                    {row.label === "Status" ? <StatusBadge status={v} /> : v || <span className="muted">—</span>}
                  </td>
                ))}
              </tr>,
            ];
          })}
        </tbody>
      </table>
    </div>
  );
}
