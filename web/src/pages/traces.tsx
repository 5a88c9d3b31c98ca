/** An experiment's Traces tab (search, list) and one trace (its info, assessments and span tree). */
import { useEffect, useState, type FormEvent } from "react";
import { ErrorBox, Empty, StatusBadge } from "../components/common.js";
import { SpanTree } from "../components/span-tree.js";
import { Link, setQuery, useLocation, useTitle } from "../router.js";
import { durationMs, getTraceData, getTraceInfo, searchTraces, type WireTraceInfo } from "../traces-api.js";
import { formatDuration, formatTime, useLoad } from "../util.js";

function traceName(t: WireTraceInfo): string {
  return t.tags["mlflow.traceName"] ?? t.trace_id;
}

function Preview({ text }: { text: string | undefined }) {
  if (!text) return <span className="muted">—</span>;
  return <span className="mono preview" title={text}>{text.length > 80 ? `${text.slice(0, 80)}…` : text}</span>;
}

export function TracesPage({ experimentId }: { experimentId: string }) {
  const { query } = useLocation();
  const filter = query.get("filter") ?? "";
  const [draft, setDraft] = useState(filter);
  useEffect(() => setDraft(filter), [filter]);
  const [extra, setExtra] = useState<{ traces: WireTraceInfo[]; token?: string }>({ traces: [] });
  const first = useLoad(() => searchTraces(experimentId, filter), [experimentId, filter]);
  useEffect(() => setExtra({ traces: [] }), [experimentId, filter]);
  useTitle("Traces");
  const [moreError, setMoreError] = useState<string>();
  const traces = [...(first.data?.traces ?? []), ...extra.traces];
  const token = extra.token ?? first.data?.next_page_token;

  const handleFilter = (e: FormEvent) => {
    e.preventDefault();
    setQuery({ filter: draft.trim() || undefined }, { push: true });
  };
  const handleMore = async () => {
    try {
      const page = await searchTraces(experimentId, filter, token);
      setExtra((x) => ({ traces: [...x.traces, ...page.traces], token: page.next_page_token ?? "" }));
    } catch (err) {
      setMoreError(String((err as Error).message ?? err));
    }
  };

  return (
    <main className="page" id="main">
      <div className="page-head">
        <h1>Traces</h1>
        <div className="head-meta muted">
          Experiment <Link to={`/experiments/${encodeURIComponent(experimentId)}`}>{experimentId}</Link>
        </div>
      </div>
      <form className="filter-form" onSubmit={handleFilter} role="search">
        <label htmlFor="trace-filter">Filter traces</label>
        <div className="filter-row">
          <input
            id="trace-filter"
            className="mono"
            type="search"
            spellCheck={false}
            placeholder="trace.status = 'OK' and tags.env = 'prod' and span.type = 'LLM'"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
          />
          <button type="submit">Search</button>
        </div>
      </form>
      <ErrorBox error={first.error ?? moreError} />
      {!first.loading && traces.length === 0 && !first.error ? (
        <Empty>No traces match.</Empty>
      ) : (
        <div className="table-scroll">
          <table className="grid" aria-label="Traces">
            <thead>
              <tr>
                <th>Trace</th>
                <th>Request</th>
                <th>Response</th>
                <th>State</th>
                <th>Started</th>
                <th>Duration</th>
              </tr>
            </thead>
            <tbody>
              {traces.map((t) => (
                <tr key={t.trace_id}>
                  <td>
                    <Link to={`/experiments/${encodeURIComponent(experimentId)}/traces/${encodeURIComponent(t.trace_id)}`}>{traceName(t)}</Link>
                    <div className="muted mono small">{t.trace_id}</div>
                  </td>
                  <td>
                    <Preview text={t.request_preview} />
                  </td>
                  <td>
                    <Preview text={t.response_preview} />
                  </td>
                  <td>
                    <StatusBadge status={t.state === "OK" ? "FINISHED" : t.state === "ERROR" ? "FAILED" : "RUNNING"} />
                  </td>
                  <td>{formatTime(Date.parse(t.request_time))}</td>
                  <td>{formatDuration(durationMs(t.execution_duration))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {token && (
        <button type="button" onClick={handleMore}>
          Load more
        </button>
      )}
    </main>
  );
}

function assessmentValue(a: NonNullable<WireTraceInfo["assessments"]>[number]): string {
  const v = a.feedback?.value ?? a.expectation?.value ?? a.expectation?.serialized_value?.value;
  return typeof v === "string" ? v : JSON.stringify(v);
}

export function TracePage({ experimentId, traceId }: { experimentId: string; traceId: string }) {
  const info = useLoad(() => getTraceInfo(traceId), [traceId]);
  const data = useLoad(() => getTraceData(traceId), [traceId]);
  const t = info.data;
  useTitle(t ? traceName(t) : "Trace");
  const tags = Object.entries(t?.tags ?? {}).filter(([k]) => !k.startsWith("mlflow."));
  const assessments = t?.assessments ?? [];
  return (
    <main className="page" id="main">
      <div className="page-head">
        <h1>{t ? traceName(t) : "Trace"}</h1>
        <div className="head-meta muted">
          <Link to={`/experiments/${encodeURIComponent(experimentId)}/traces`}>Traces</Link> · <span className="mono">{traceId}</span>
          {t && (
            <>
              {" · "}
              {t.state} · {formatTime(Date.parse(t.request_time))} · {formatDuration(durationMs(t.execution_duration))}
            </>
          )}
        </div>
      </div>
      <ErrorBox error={info.error ?? data.error} />
      {tags.length > 0 && (
        <p aria-label="Tags">
          {tags.map(([k, v]) => (
            <span key={k} className="badge">
              {k}: {v}
            </span>
          ))}
        </p>
      )}
      {assessments.length > 0 && (
        <section className="card" aria-label="Assessments">
          <div className="card-head">
            <h2>Assessments</h2>
          </div>
          <table className="grid">
            <thead>
              <tr>
                <th>Name</th>
                <th>Value</th>
                <th>Source</th>
                <th>Rationale</th>
              </tr>
            </thead>
            <tbody>
              {assessments.map((a) => (
                <tr key={a.assessment_id} className={a.valid === false ? "muted" : undefined}>
                  <td>
                    {a.assessment_name}
                    {a.valid === false && " (overridden)"}
                  </td>
                  <td className="mono">{assessmentValue(a)}</td>
                  <td>{a.source ? `${a.source.source_type} ${a.source.source_id}` : "—"}</td>
                  <td>{a.rationale ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {data.data && <SpanTree spans={data.data.spans} />}
    </main>
  );
}
