import { memo, useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import * as api from "../api.js";
import { Link, href, navigate, setQuery, useLocation, useTitle } from "../router.js";
import { ErrorBox, StatusBadge } from "../components/common.js";
import {
  columnId,
  columnValue,
  formatDuration,
  formatTime,
  formatValue,
  parseColumnId,
  quoteKey,
  runDuration,
  runName,
  shortHash,
  tagMap,
  useLoad,
  type Column,
} from "../util.js";

const PAGE = 1000;
const ROW_HEIGHT = 34;

interface Pages {
  runs: api.Run[];
  token?: string;
  loading: boolean;
  error?: string;
  done: boolean;
}

/** Pages of runs/search, fetched as the table scrolls towards the end of what is loaded. */
function useRunPages(req: { experimentId: string; filter: string; orderBy: string[]; viewType: string }, version: number) {
  const [state, setState] = useState<Pages>({ runs: [], loading: true, done: false });
  const inflight = useRef<AbortController | undefined>(undefined);
  const key = JSON.stringify(req) + version;
  const keyRef = useRef(key);

  const fetchPage = useCallback(
    async (token: string | undefined, k: string) => {
      inflight.current?.abort();
      const ctl = new AbortController();
      inflight.current = ctl;
      setState((s) => ({ ...s, loading: true }));
      try {
        const res = await api.searchRuns(
          { experimentIds: [req.experimentId], filter: req.filter, orderBy: req.orderBy, viewType: req.viewType, maxResults: PAGE, pageToken: token },
          ctl.signal,
        );
        if (keyRef.current !== k) return;
        setState((s) => ({
          runs: token ? s.runs.concat(res.runs ?? []) : res.runs ?? [],
          token: res.next_page_token,
          loading: false,
          done: !res.next_page_token,
        }));
      } catch (err) {
        if (ctl.signal.aborted || keyRef.current !== k) return;
        setState((s) => ({ ...s, loading: false, error: api.errorMessage(err), done: true }));
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [key],
  );

  useEffect(() => {
    keyRef.current = key;
    setState({ runs: [], loading: true, done: false });
    void fetchPage(undefined, key);
    return () => inflight.current?.abort();
  }, [key, fetchPage]);

  const stateRef = useRef(state);
  stateRef.current = state;
  const loadMore = useCallback(() => {
    const s = stateRef.current;
    if (!s.loading && s.token && !s.error) void fetchPage(s.token, keyRef.current);
  }, [fetchPage]);

  return { ...state, loadMore };
}

interface SortSpec {
  id: string;
  desc: boolean;
}

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

export function RunsPage({ experimentId }: { experimentId: string }) {
  const { query } = useLocation();
  const filter = query.get("filter") ?? "";
  const sort = parseSort(query.get("sort"));
  const viewType = query.get("view") === "deleted" ? "DELETED_ONLY" : query.get("view") === "all" ? "ALL" : "ACTIVE_ONLY";
  const selected = useMemo(() => new Set((query.get("sel") ?? "").split(",").filter(Boolean)), [query]);
  const colsParam = query.get("cols");
  const columnIds = colsParam !== null ? colsParam.split(",").filter(Boolean) : loadStoredColumns(experimentId) ?? [];
  const columnKey = columnIds.join(",");
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const columns = useMemo(() => columnIds.map(parseColumnId).filter((c): c is Column => !!c), [columnKey]);

  const experiment = useLoad(() => api.getExperiment(experimentId), [experimentId]);
  useTitle(experiment.data?.name ?? "Runs");
  const [version, setVersion] = useState(0);
  const orderBy = orderByFor(sort);
  const pages = useRunPages({ experimentId, filter, orderBy, viewType }, version);
  const [draft, setDraft] = useState(filter);
  useEffect(() => setDraft(filter), [filter]);
  const [actionError, setActionError] = useState<string>();

  const setColumns = (ids: string[]) => {
    try {
      window.localStorage.setItem(storageKey(experimentId), JSON.stringify(ids));
    } catch {
      // storage full or disabled: the URL still holds the choice
    }
    setQuery({ cols: ids.join(",") || undefined });
  };

  const available = useMemo(() => {
    const keys = { params: new Set<string>(), metrics: new Set<string>(), tags: new Set<string>() };
    for (const r of pages.runs.slice(0, 2000)) {
      for (const p of r.data.params ?? []) keys.params.add(p.key);
      for (const m of r.data.metrics ?? []) keys.metrics.add(m.key);
      for (const t of r.data.tags ?? []) if (!t.key.startsWith("mlflow.")) keys.tags.add(t.key);
    }
    for (const c of columns) keys[c.kind].add(c.key);
    return keys;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pages.runs, colsParam]);

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

  const fixed = [
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
      <form className="filter-form" onSubmit={handleFilter} role="search">
        <label htmlFor="run-filter">Filter runs</label>
        <div className="filter-row">
          <input
            id="run-filter"
            className="mono"
            type="search"
            spellCheck={false}
            placeholder="metrics.rmse < 1 and params.model = 'tree' and tags.team = 'vision'"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            aria-invalid={filterError ? true : undefined}
            aria-describedby={filterError ? "run-filter-error" : "run-filter-help"}
          />
          <button type="submit" className="primary">
            Apply
          </button>
          {filter && (
            <button type="button" onClick={() => setQuery({ filter: undefined }, { push: true })}>
              Clear
            </button>
          )}
        </div>
        {filterError ? (
          <div className="error-box" role="alert" id="run-filter-error">
            {filterError}
          </div>
        ) : (
          <p id="run-filter-help" className="help">
            The same search language as the API: <code>params.</code>, <code>metrics.</code>, <code>tags.</code>, <code>attributes.</code>,{" "}
            <code>datasets.</code> with <code>= != &lt; &gt; LIKE ILIKE IN</code>, joined by <code>and</code>.
          </p>
        )}
      </form>
      <div className="toolbar">
        <div className="segmented" role="group" aria-label="Lifecycle">
          {(["ACTIVE_ONLY", "DELETED_ONLY", "ALL"] as const).map((v) => (
            <button key={v} type="button" aria-pressed={viewType === v} onClick={() => setQuery({ view: v === "ACTIVE_ONLY" ? undefined : v === "ALL" ? "all" : "deleted" })}>
              {v === "ACTIVE_ONLY" ? "Active" : v === "ALL" ? "All" : "Deleted"}
            </button>
          ))}
        </div>
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

type PageState = Pages & { loadMore: () => void };

/** The virtualized part: only this re-renders while scrolling, and rows that stay in view are memoized. */
function RunsTable({
  pages,
  template,
  fixed,
  columns,
  sort,
  onSort,
  experimentId,
  selected,
  onToggle,
  emptyText,
}: {
  pages: PageState;
  template: string;
  fixed: { id: string; label: string; sortable: boolean }[];
  columns: Column[];
  sort: SortSpec;
  onSort: (id: string) => void;
  experimentId: string;
  selected: Set<string>;
  onToggle: (id: string) => void;
  emptyText?: string;
}) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const count = pages.runs.length + (pages.done ? 0 : 1);
  const virtualizer = useVirtualizer({ count, getScrollElement: () => scrollRef.current, estimateSize: () => ROW_HEIGHT, overscan: 15 });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.length ? items[items.length - 1]!.index : 0;
  const { done, loading, loadMore } = pages;
  useEffect(() => {
    if (!done && !loading && lastIndex >= pages.runs.length - 300) loadMore();
  }, [lastIndex, done, loading, pages.runs.length, loadMore]);
  const handleSort = onSort;
  return (
    <div className="vtable" role="table" aria-label="Runs" aria-rowcount={pages.done ? pages.runs.length + 1 : -1}>
      <div className="vtable-scroll" ref={scrollRef} tabIndex={-1}>
        <div className="vrow vhead" role="row" style={{ gridTemplateColumns: template }}>
          {fixed.map((f) => (
            <HeaderCell key={f.id} id={f.id} label={f.label} sortable={f.sortable} sort={sort} onSort={handleSort} />
          ))}
          {columns.map((c) => (
            <HeaderCell key={columnId(c)} id={columnId(c)} label={c.key} kind={c.kind} sortable sort={sort} onSort={handleSort} />
          ))}
        </div>
        <div className="vbody" style={{ height: virtualizer.getTotalSize() }} role="rowgroup">
          {items.map((item) => {
            const run = pages.runs[item.index];
            if (!run)
              return (
                <div key="more" className="vrow loading-row" role="row" style={{ transform: `translateY(${item.start}px)`, gridTemplateColumns: "1fr" }}>
                  <div role="cell">{pages.loading ? "Loading runs…" : ""}</div>
                </div>
              );
            return (
              <RunRow
                key={run.info.run_id}
                run={run}
                index={item.index}
                top={item.start}
                template={template}
                columns={columns}
                experimentId={experimentId}
                selected={selected.has(run.info.run_id)}
                onToggle={onToggle}
              />
            );
          })}
        </div>
        {pages.done && pages.runs.length === 0 && emptyText && <p className="empty">{emptyText}</p>}
      </div>
    </div>
  );
}

function HeaderCell({ id, label, kind, sortable, sort, onSort }: { id: string; label: string; kind?: string; sortable: boolean; sort: SortSpec; onSort: (id: string) => void }) {
  const active = sort.id === id;
  const ariaSort = active ? (sort.desc ? "descending" : "ascending") : sortable ? "none" : undefined;
  const text = (
    <>
      {kind && <span className={`kind kind-${kind}`}>{kind === "params" ? "P" : kind === "metrics" ? "M" : "T"}</span>}
      <span className="col-label" title={label}>
        {label}
      </span>
    </>
  );
  if (id === "select") {
    return (
      <div role="columnheader" className="vcell">
        <span className="sr-only">Select</span>
      </div>
    );
  }
  return (
    <div role="columnheader" aria-sort={ariaSort} className="vcell">
      {sortable ? (
        <button type="button" className="sort-button" onClick={() => onSort(id)} aria-label={`Sort by ${kind ? `${kind} ` : ""}${label}`}>
          {text}
          <span aria-hidden="true" className="sort-arrow">
            {active ? (sort.desc ? "▼" : "▲") : ""}
          </span>
        </button>
      ) : (
        text
      )}
    </div>
  );
}

const RunRow = memo(function RunRow({
  run,
  index,
  top,
  template,
  columns,
  experimentId,
  selected,
  onToggle,
}: {
  run: api.Run;
  index: number;
  top: number;
  template: string;
  columns: Column[];
  experimentId: string;
  selected: boolean;
  onToggle: (id: string) => void;
}) {
  const tags = tagMap(run.data.tags);
  const commit = tags.get("mlflow.source.git.commit");
  const source = tags.get("mlflow.source.name") ?? "";
  const parent = tags.get("mlflow.parentRunId");
  const name = runName(run);
  const id = run.info.run_id;
  return (
    <div
      className={`vrow${selected ? " selected" : ""}${index % 2 ? " odd" : ""}`}
      role="row"
      aria-rowindex={index + 2}
      aria-selected={selected}
      data-run-id={id}
      style={{ transform: `translateY(${top}px)`, gridTemplateColumns: template }}
    >
      <div role="cell" className="vcell">
        <input type="checkbox" checked={selected} onChange={() => onToggle(id)} aria-label={`Select run ${name}`} />
      </div>
      <div role="cell" className="vcell">
        {parent && (
          <span className="nested" title={`Child of ${parent}`} aria-label="child run">
            ↳
          </span>
        )}
        <Link to={`/experiments/${encodeURIComponent(experimentId)}/runs/${encodeURIComponent(id)}`} className="run-link">
          {name}
        </Link>
      </div>
      <div role="cell" className="vcell">
        {formatTime(run.info.start_time)}
      </div>
      <div role="cell" className="vcell num">
        {formatDuration(runDuration(run))}
      </div>
      <div role="cell" className="vcell">
        {run.info.user_id}
      </div>
      <div role="cell" className="vcell">
        <StatusBadge status={run.info.status} />
      </div>
      <div role="cell" className="vcell" title={source + (commit ? ` @ ${commit}` : "")}>
        {commit && <code className="commit">{shortHash(commit)}</code>} <span className="muted">{source.split("/").pop()}</span>
      </div>
      {columns.map((c) => {
        const v = columnValue(run, c);
        return (
          <div role="cell" key={columnId(c)} className={`vcell${c.kind === "metrics" ? " num" : ""}`} title={v === undefined ? undefined : String(v)}>
            {c.kind === "metrics" ? formatValue(v) : v ?? ""}
          </div>
        );
      })}
    </div>
  );
});

function ColumnPicker({ available, chosen, onChange }: { available: Record<"params" | "metrics" | "tags", Set<string>>; chosen: string[]; onChange: (ids: string[]) => void }) {
  const [open, setOpen] = useState(false);
  const [q, setQ] = useState("");
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDoc = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", onDoc);
    return () => document.removeEventListener("mousedown", onDoc);
  }, [open]);
  const set = new Set(chosen);
  const toggle = (id: string) => onChange(set.has(id) ? chosen.filter((x) => x !== id) : [...chosen, id]);
  return (
    <div className="popover-wrap" ref={ref}>
      <button type="button" aria-expanded={open} aria-controls="column-picker" onClick={() => setOpen((o) => !o)}>
        Columns{chosen.length ? ` (${chosen.length})` : ""}
      </button>
      {open && (
        <div className="popover" id="column-picker" role="dialog" aria-label="Choose columns" onKeyDown={(e) => e.key === "Escape" && setOpen(false)}>
          <label className="sr-only" htmlFor="column-search">
            Find a column
          </label>
          <input id="column-search" autoFocus placeholder="Find a column…" value={q} onChange={(e) => setQ(e.target.value)} />
          {(["metrics", "params", "tags"] as const).map((kind) => {
            const keys = [...available[kind]].filter((k) => k.toLowerCase().includes(q.toLowerCase())).sort();
            if (!keys.length) return null;
            return (
              <fieldset key={kind}>
                <legend>{kind === "metrics" ? "Metrics" : kind === "params" ? "Parameters" : "Tags"}</legend>
                {keys.slice(0, 300).map((k) => {
                  const id = `${kind}.${k}`;
                  return (
                    <label key={id} className="check">
                      <input type="checkbox" checked={set.has(id)} onChange={() => toggle(id)} /> {k}
                    </label>
                  );
                })}
              </fieldset>
            );
          })}
          {chosen.length > 0 && (
            <button type="button" className="link-button" onClick={() => onChange([])}>
              Remove all columns
            </button>
          )}
        </div>
      )}
    </div>
  );
}
