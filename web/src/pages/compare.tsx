import { useMemo } from "react";
import * as api from "../api.js";
import { Link, setQuery, useLocation, useTitle } from "../router.js";
import { ErrorBox } from "../components/common.js";
import { ColumnSelect } from "../components/column-picker.js";
import { DiffTable } from "../components/diff-table.js";
import { ChartControls, MetricChart, settingsFromQuery, settingsToQuery } from "../components/metric-chart.js";
import { RunLegend } from "../components/run-legend.js";
import { ParallelCoordinates, Scatter, numeric } from "../components/run-plots.js";
import { columnId, columnValue, parseColumnId, runName, useLoad, type Column } from "../util.js";

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
      {list.length > 0 && <RunLegend runs={list} />}

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
