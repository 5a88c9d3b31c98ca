/** The header cell of a sortable table column (the runs table; later the deployments and monitoring tables). */

/** Which column a table is sorted by, and which way. */
export interface SortSpec {
  id: string;
  desc: boolean;
}

/** A column header: a sort button with `aria-sort`, a kind badge (P, M, T) for params, metrics and tags; `select` is the checkbox column. */
export function HeaderCell({ id, label, kind, sortable, sort, onSort }: { id: string; label: string; kind?: string; sortable: boolean; sort: SortSpec; onSort: (id: string) => void }) {
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
