import { useMemo, useState } from "react";
import * as api from "../api.js";
import { Link, setQuery, useLocation, useTitle } from "../router.js";
import { ErrorBox, StatusBadge, Tabs, TagEditor } from "../components/common.js";
import { ChartControls, MetricChart, settingsFromQuery, settingsToQuery } from "../components/metric-chart.js";
import { ArtifactBrowser } from "../components/artifacts.js";
import { DatasetsTable } from "../components/datasets-table.js";
import { KeyValueTable } from "../components/key-value-table.js";
import { MarkdownCard } from "../components/description.js";
import { formatDuration, formatTime, formatValue, runDuration, runName, shortHash, tagMap, useLoad, usePolling } from "../util.js";

type Tab = "overview" | "metrics" | "artifacts";
const NOTE = "mlflow.note.content";

export function RunPage({ runId, experimentId }: { runId: string; experimentId?: string }) {
  const { query } = useLocation();
  const tab = (["overview", "metrics", "artifacts"].includes(query.get("tab") ?? "") ? query.get("tab") : "overview") as Tab;
  const run = useLoad(() => api.getRun(runId), [runId]);
  const r = run.data;
  const expId = experimentId ?? r?.info.experiment_id;
  const experiment = useLoad(() => (expId ? api.getExperiment(expId) : Promise.resolve(undefined)), [expId]);
  const running = r?.info.status === "RUNNING";
  usePolling(running, run.reload, 3000);
  useTitle(r ? runName(r) : "Run");

  if (run.error && !r) {
    return (
      <main className="page" id="main">
        <h1>Run {runId}</h1>
        <ErrorBox error={run.error} />
      </main>
    );
  }
  return (
    <main className="page page-wide" id="main">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/">Experiments</Link> <span aria-hidden="true">›</span>{" "}
        {expId && <Link to={`/experiments/${encodeURIComponent(expId)}`}>{experiment.data?.name ?? expId}</Link>} <span aria-hidden="true">›</span>{" "}
        <span>{r ? runName(r) : runId}</span>
      </nav>
      <div className="page-head">
        <h1>
          {r ? runName(r) : "Run"} {r && <StatusBadge status={r.info.status} />}
          {running && (
            <span className="live" title="Updating every 3 seconds">
              live
            </span>
          )}
        </h1>
        <div className="head-meta muted mono">{runId}</div>
      </div>
      <Tabs<Tab>
        label="Run sections"
        current={tab}
        onChange={(t) => setQuery({ tab: t === "overview" ? undefined : t, path: undefined })}
        tabs={[
          { id: "overview", label: "Overview" },
          { id: "metrics", label: `Metrics${r?.data.metrics?.length ? ` (${r.data.metrics.length})` : ""}` },
          { id: "artifacts", label: "Artifacts" },
        ]}
      />
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tab-panel">
        {r && tab === "overview" && <Overview run={r} reload={run.reload} />}
        {tab === "metrics" && (r || query.get("metric")) && <MetricsPanel runId={runId} run={r} query={query} />}
        {r && tab === "artifacts" && <ArtifactBrowser run={r.info} selected={query.get("path") ?? undefined} onSelect={(p) => setQuery({ path: p })} />}
      </div>
    </main>
  );
}

function Overview({ run, reload }: { run: api.Run; reload: () => void }) {
  const tags = tagMap(run.data.tags);
  const info = run.info;
  const parentId = tags.get("mlflow.parentRunId");
  const commit = tags.get("mlflow.source.git.commit");
  const repo = tags.get("mlflow.source.git.repoURL");
  const children = useLoad(
    () => api.searchRuns({ experimentIds: [info.experiment_id], filter: `tags.mlflow.parentRunId = '${info.run_id}'`, maxResults: 200 }).then((x) => x.runs ?? []),
    [info.run_id],
  );
  const commitUrl = commit && repo && /^https:\/\/(github\.com|gitlab\.com|bitbucket\.org)\//.test(repo) ? `${repo.replace(/\.git$/, "")}/commit/${commit}` : undefined;
  const [paramFilter, setParamFilter] = useState("");
  const params = (run.data.params ?? []).filter((p) => p.key.toLowerCase().includes(paramFilter.toLowerCase())).sort((a, b) => a.key.localeCompare(b.key));
  const metrics = [...(run.data.metrics ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const datasets = run.inputs?.dataset_inputs ?? [];
  const setTag = async (k: string, v: string) => {
    await api.setRunTag(info.run_id, k, v);
    reload();
  };
  const deleteTag = async (k: string) => {
    await api.deleteRunTag(info.run_id, k);
    reload();
  };
  return (
    <div className="overview">
      <section aria-labelledby="h-details" className="card">
        <h2 id="h-details">Details</h2>
        <dl className="details">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={info.status} />
            {info.lifecycle_stage === "deleted" && <span className="badge status-failed">deleted</span>}
          </dd>
          <dt>Started</dt>
          <dd>{formatTime(info.start_time)}</dd>
          <dt>Ended</dt>
          <dd>{formatTime(info.end_time) || "—"}</dd>
          <dt>Duration</dt>
          <dd>{formatDuration(runDuration(run))}</dd>
          <dt>User</dt>
          <dd>{info.user_id || "—"}</dd>
          <dt>Source</dt>
          <dd className="mono">
            {tags.get("mlflow.source.name") ?? "—"}
            {tags.get("mlflow.source.type") && <span className="muted"> ({tags.get("mlflow.source.type")})</span>}
          </dd>
          {tags.get("mlflow.project.entryPoint") && (
            <>
              <dt>Entry point</dt>
              <dd className="mono">{tags.get("mlflow.project.entryPoint")}</dd>
            </>
          )}
          <dt>Git commit</dt>
          <dd>
            {commit ? (
              commitUrl ? (
                <a href={commitUrl} className="mono" title={commit} rel="noopener noreferrer">
                  {shortHash(commit)}
                </a>
              ) : (
                <code title={commit}>{shortHash(commit)}</code>
              )
            ) : (
              "—"
            )}
            {tags.get("mlflow.source.git.branch") && <span className="muted"> on {tags.get("mlflow.source.git.branch")}</span>}
          </dd>
          <dt>Artifact URI</dt>
          <dd className="mono">{info.artifact_uri}</dd>
          {parentId && (
            <>
              <dt>Parent run</dt>
              <dd>
                <Link to={`/experiments/${encodeURIComponent(info.experiment_id)}/runs/${encodeURIComponent(parentId)}`} className="mono">
                  {parentId}
                </Link>
              </dd>
            </>
          )}
          {children.data && children.data.length > 0 && (
            <>
              <dt>Child runs</dt>
              <dd>
                <ul className="plain">
                  {children.data.map((c) => (
                    <li key={c.info.run_id}>
                      <Link to={`/experiments/${encodeURIComponent(info.experiment_id)}/runs/${encodeURIComponent(c.info.run_id)}`}>{runName(c)}</Link> <StatusBadge status={c.info.status} />
                    </li>
                  ))}
                </ul>
              </dd>
            </>
          )}
        </dl>
      </section>

      <Notes run={run} onSave={(text) => setTag(NOTE, text)} />

      {datasets.length > 0 && (
        <section aria-labelledby="h-datasets" className="card">
          <h2 id="h-datasets">Datasets</h2>
          <DatasetsTable datasets={datasets} />
        </section>
      )}

      <section aria-labelledby="h-params" className="card">
        <div className="card-head">
          <h2 id="h-params">Parameters ({run.data.params?.length ?? 0})</h2>
          <label>
            <span className="sr-only">Filter parameters</span>
            <input type="search" placeholder="Filter parameters" value={paramFilter} onChange={(e) => setParamFilter(e.target.value)} aria-label="Filter parameters" />
          </label>
        </div>
        <KeyValueTable valueClassName="mono wrap" rows={params.map((p) => ({ key: p.key, value: p.value }))} />
      </section>

      <section aria-labelledby="h-metrics" className="card">
        <h2 id="h-metrics">Metrics ({metrics.length})</h2>
        <KeyValueTable
          valueClassName="mono num"
          rows={metrics.map((m) => ({
            key: m.key,
            label: <Link to={`${window.location.pathname}?tab=metrics&metric=${encodeURIComponent(m.key)}`}>{m.key}</Link>,
            value: formatValue(m.value),
            extra: `step ${m.step ?? 0}`,
          }))}
        />
      </section>

      <section aria-labelledby="h-tags" className="card">
        <h2 id="h-tags">Tags</h2>
        <TagEditor tags={(run.data.tags ?? []).filter((t) => t.key !== NOTE)} onSet={setTag} onDelete={deleteTag} />
      </section>
    </div>
  );
}

const NOTES = {
  title: "Notes",
  edit: "Edit notes",
  add: "Add notes",
  save: "Save notes",
  empty: "No notes.",
  placeholder: "Markdown: what changed, what you learned…",
  id: "note-text",
  className: "notes",
};

function Notes({ run, onSave }: { run: api.Run; onSave: (text: string) => Promise<void> }) {
  return <MarkdownCard text={tagMap(run.data.tags).get(NOTE) ?? ""} onSave={onSave} label="Notes" words={NOTES} />;
}

/** Charts of a run; with `metric` in the URL the chart's request starts before the run itself has loaded. */
function MetricsPanel({ runId, run, query }: { runId: string; run: api.Run | undefined; query: URLSearchParams }) {
  const settings = settingsFromQuery(query);
  const only = query.get("metric");
  const [filter, setFilter] = useState("");
  const keys = useMemo(() => [...new Set((run?.data.metrics ?? []).map((m) => m.key))].sort(), [run?.data.metrics]);
  const shown = only ? [only] : keys.filter((k) => k.toLowerCase().includes(filter.toLowerCase()));
  const startTime = run?.info.start_time ? Number(run.info.start_time) : undefined;
  const relStart = settings.xMode === "relative" ? startTime : undefined;
  const chartRuns = useMemo(() => [{ id: runId, name: "value", startTime: relStart }], [runId, relStart]);
  const live = run?.info.status === "RUNNING";
  return (
    <div>
      <div className="toolbar">
        <ChartControls settings={settings} onChange={(s) => setQuery(settingsToQuery(s))} />
        <div className="spacer" />
        {only ? (
          <button type="button" onClick={() => setQuery({ metric: undefined })}>
            All metrics
          </button>
        ) : (
          <label>
            <span className="sr-only">Filter metrics</span>
            <input type="search" placeholder="Filter metrics" aria-label="Filter metrics" value={filter} onChange={(e) => setFilter(e.target.value)} />
          </label>
        )}
      </div>
      {run && keys.length === 0 && <p className="empty">This run has no metrics.</p>}
      <div className={only ? "charts single" : "charts"}>
        {shown.slice(0, 60).map((k) => (
          <MetricChart key={k} runs={chartRuns} metricKey={k} settings={settings} live={live} height={only ? 420 : 240} />
        ))}
      </div>
      {shown.length > 60 && <p className="muted">Showing 60 of {shown.length} metrics: filter to find the others.</p>}
    </div>
  );
}
