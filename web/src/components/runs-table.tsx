import { memo, useEffect, useRef } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import type * as api from "../api.js";
import { Link } from "../router.js";
import { StatusBadge } from "./common.js";
import type { PageState } from "./run-pages.js";
import { HeaderCell, type SortSpec } from "./sortable-header.js";
import { columnId, columnValue, formatDuration, formatTime, formatValue, runDuration, runName, shortHash, tagMap, type Column } from "../util.js";

const ROW_HEIGHT = 34;

/** A fixed column of the runs table (before the chosen param/metric/tag columns). */
export interface FixedColumn {
  id: string;
  label: string;
  sortable: boolean;
}

/** The virtualized part: only this re-renders while scrolling, and rows that stay in view are memoized. */
export function RunsTable({
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
  fixed: FixedColumn[];
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
