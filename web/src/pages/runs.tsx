import { useCallback, useEffect, useMemo, useState, type FormEvent } from "react";
import * as api from "../api.js";
import { Link, href, navigate, setQuery, useLocation, useTitle } from "../router.js";
import { ErrorBox } from "../components/common.js";
import { ColumnPicker } from "../components/column-picker.js";
import { FilterForm } from "../components/filter-form.js";
import { LifecycleToggle } from "../components/lifecycle-toggle.js";
import { useRunPages } from "../components/run-pages.js";
import { RunsTable, type FixedColumn } from "../components/runs-table.js";
import type { SortSpec } from "../components/sortable-header.js";
import { columnId, parseColumnId, quoteKey, useLoad, type Column } from "../util.js";

const ATTRS: Record<string, string> = {
  name: "attributes.run_name",
  start: "attributes.start_time",
  user: "attributes.user_id",
  status: "attributes.status",
  end: "attributes.end_time",
};

function parseSort(raw: string | null): SortSpec {
  if (!raw) return { id: "start", desc: true };
  const [id, dir] = raw.split(":");
  return { id: id || "start", desc: dir !== "asc" };
}

function orderByFor(sort: SortSpec): string[] {
  const attr = ATTRS[sort.id];
  const dir = sort.desc ? "DESC" : "ASC";
  if (attr) return [`${attr} ${dir}`];
  const c = parseColumnId(sort.id);
  if (!c) return [];
  return [`${c.kind}.${quoteKey(c.key)} ${dir}`];
}

const storageKey = (experimentId: string) => `mloop.columns.${experimentId}`;

function loadStoredColumns(experimentId: string): string[] | undefined {
  try {
    const raw = window.localStorage.getItem(storageKey(experimentId));
    const v = raw ? (JSON.parse(raw) as unknown) : undefined;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;
  } catch {
    return undefined;
  }
}

/** Default columns: at most this many, metrics first; the column picker offers the rest. */
const DEFAULT_COLUMNS_MAX = 40;

function defaultColumnIds(seen: { params: Set<string>; metrics: Set<string> }): string[] {
  const metrics = [...seen.metrics].sort().map((k) => columnId({ kind: "metrics", key: k }));
  const params = [...seen.params].sort().map((k) => columnId({ kind: "params", key: k }));
  return [...metrics, ...params].slice(0, DEFAULT_COLUMNS_MAX);
}

export function RunsPage({ experimentId }: { experimentId: string }) {
  const { query } = useLocation();
  const filter = query.get("filter") ?? "";
  const sort = parseSort(query.get("sort"));
  const viewType = query.get("view") === "deleted" ? "DELETED_ONLY" : query.get("view") === "all" ? "ALL" : "ACTIVE_ONLY";
  const selected = useMemo(() => new Set((query.get("sel") ?? "").split(",").filter(Boolean)), [query]);
  const colsParam = query.get("cols");
  const chosenIds = colsParam !== null ? colsParam.split(",").filter(Boolean) : loadStoredColumns(experimentId);

  const experiment = useLoad(() => api.getExperiment(experimentId), [experimentId]);
  useTitle(experiment.data?.name ?? "Runs");
  const [version, setVersion] = useState(0);
  const orderBy = orderByFor(sort);
  const pages = useRunPages({ experimentId, filter, orderBy, viewType }, version);

  // The keys the loaded runs carry (the first 2000 runs are plenty to name them).
  const seen = useMemo(() => {
    const keys = { params: new Set<string>(), metrics: new Set<string>(), tags: new Set<string>() };
    for (const r of pages.runs.slice(0, 2000)) {
      for (const p of r.data.params ?? []) keys.params.add(p.key);
      for (const m of r.data.metrics ?? []) keys.metrics.add(m.key);
      for (const t of r.data.tags ?? []) if (!t.key.startsWith("mlflow.")) keys.tags.add(t.key);
    }
    return keys;
  }, [pages.runs]);
  // Until the user picks columns, the experiment's metrics and then its params are shown, as MLflow shows them.
  const columnIds = chosenIds ?? defaultColumnIds(seen);
  const columnKey = columnIds.join(",");
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const columns = useMemo(() => columnIds.map(parseColumnId).filter((c): c is Column => !!c), [columnKey]);
  const [draft, setDraft] = useState(filter);
  useEffect(() => setDraft(filter), [filter]);
  const [actionError, setActionError] = useState<string>();
  const [, bumpColumns] = useState(0);

  const setColumns = (ids: string[]) => {
    try {
      window.localStorage.setItem(storageKey(experimentId), JSON.stringify(ids));
    } catch {
      // storage full or disabled: the URL still holds the choice
    }
    setQuery({ cols: ids.join(",") || undefined });
    // "No columns" may leave the URL as it was: the stored choice alone must re-render.
    bumpColumns((n) => n + 1);
  };

  const available = useMemo(() => {
    const keys = { params: new Set(seen.params), metrics: new Set(seen.metrics), tags: new Set(seen.tags) };
    for (const c of columns) keys[c.kind].add(c.key);
    return keys;
  }, [seen, columns]);

  const toggle = useCallback((runId: string) => {
    const sel = new Set((new URLSearchParams(window.location.search).get("sel") ?? "").split(",").filter(Boolean));
    if (sel.has(runId)) sel.delete(runId);
    else sel.add(runId);
    setQuery({ sel: [...sel].join(",") || undefined });
  }, []);

  const handleFilter = (e: FormEvent) => {
    e.preventDefault();
    setQuery({ filter: draft.trim() || undefined }, { push: true });
  };

  const handleSort = (id: string) => {
    const desc = sort.id === id ? !sort.desc : id === "start";
    setQuery({ sort: `${id}:${desc ? "desc" : "asc"}` });
  };

  const handleDeleteSelected = async () => {
    if (!window.confirm(`Delete ${selected.size} run(s)? They can be restored later.`)) return;
    setActionError(undefined);
    try {
      for (const id of selected) await api.deleteRun(id);
      setQuery({ sel: undefined });
      setVersion((v) => v + 1);
    } catch (err) {
      setActionError(api.errorMessage(err));
    }
  };
  const handleRestoreSelected = async () => {
    setActionError(undefined);
    try {
      for (const id of selected) await api.restoreRun(id);
      setQuery({ sel: undefined });
      setVersion((v) => v + 1);
    } catch (err) {
      setActionError(api.errorMessage(err));
    }
  };

  const fixed: (FixedColumn & { width: number })[] = [
    { id: "select", label: "Select", width: 40, sortable: false },
    { id: "name", label: "Run", width: 260, sortable: true },
    { id: "start", label: "Created", width: 160, sortable: true },
    { id: "duration", label: "Duration", width: 90, sortable: false },
    { id: "user", label: "User", width: 110, sortable: true },
    { id: "status", label: "Status", width: 100, sortable: true },
    { id: "source", label: "Source", width: 180, sortable: false },
  ];
  // Fixed pixel tracks: the browser lays each row out without measuring content, which keeps scrolling cheap.
  const template = fixed.map((f) => `${f.width}px`).concat(columns.map(() => "140px")).join(" ");
  const filterError = pages.error;
  const exp = experiment.data;

  return (
    <main className="page page-wide" id="main">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/">Experiments</Link> <span aria-hidden="true">›</span> <span>{exp?.name ?? experimentId}</span>
      </nav>
      <div className="page-head">
        <h1>{exp?.name ?? "Experiment"}</h1>
        <div className="head-meta muted">
          ID <span className="mono">{experimentId}</span> · <Link to={`/experiments/${encodeURIComponent(experimentId)}/traces`}>Traces</Link>
          {exp?.artifact_location && (
            <>
              {" · "}Artifacts <span className="mono">{exp.artifact_location}</span>
            </>
          )}
        </div>
      </div>
      <ErrorBox error={experiment.error} />
      <FilterForm
        id="run-filter"
        label="Filter runs"
        placeholder="metrics.rmse < 1 and params.model = 'tree' and tags.team = 'vision'"
        value={draft}
        onChange={setDraft}
        onSubmit={handleFilter}
        onClear={filter ? () => setQuery({ filter: undefined }, { push: true }) : undefined}
        error={filterError}
        help={
          <>
            The same search language as the API: <code>params.</code>, <code>metrics.</code>, <code>tags.</code>, <code>attributes.</code>,{" "}
            <code>datasets.</code> with <code>= != &lt; &gt; LIKE ILIKE IN</code>, joined by <code>and</code>.
          </>
        }
      />
      <div className="toolbar">
        <LifecycleToggle value={viewType} onChange={(v) => setQuery({ view: v === "ACTIVE_ONLY" ? undefined : v === "ALL" ? "all" : "deleted" })} />
        <ColumnPicker available={available} chosen={columnIds} onChange={setColumns} />
        <span className="muted count" aria-live="polite">
          {pages.runs.length.toLocaleString()}
          {pages.done ? "" : "+"} run{pages.runs.length === 1 ? "" : "s"}
          {selected.size > 0 && ` · ${selected.size} selected`}
        </span>
        <div className="spacer" />
        {selected.size > 0 && (
          <>
            <button type="button" onClick={() => setQuery({ sel: undefined })}>
              Clear selection
            </button>
            {viewType === "ACTIVE_ONLY" ? (
              <button type="button" className="danger" onClick={handleDeleteSelected}>
                Delete
              </button>
            ) : (
              <button type="button" onClick={handleRestoreSelected}>
                Restore
              </button>
            )}
          </>
        )}
        <button
          type="button"
          className="primary"
          disabled={selected.size < 2}
          onClick={() => navigate(href("/compare", { runs: [...selected].join(","), exp: experimentId }))}
        >
          Compare{selected.size ? ` (${selected.size})` : ""}
        </button>
      </div>
      <ErrorBox error={actionError} />
      <RunsTable
        pages={pages}
        template={template}
        fixed={fixed}
        columns={columns}
        sort={sort}
        onSort={handleSort}
        experimentId={experimentId}
        selected={selected}
        onToggle={toggle}
        emptyText={filterError ? undefined : filter ? "No run matches this filter." : "No runs in this experiment yet."}
      />
    </main>
  );
}
