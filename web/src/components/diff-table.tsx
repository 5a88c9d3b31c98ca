import type * as api from "../api.js";
import { StatusBadge } from "./common.js";
import { columnValue, formatDuration, formatTime, formatValue, runDuration, runName } from "../util.js";

/** Runs side by side: attributes, params, metrics and tags, one row each, rows that differ marked (and optionally the only ones shown). */
export function DiffTable({ runs, keys, onlyDiff }: { runs: api.Run[]; keys: { params: string[]; metrics: string[]; tags: string[] }; onlyDiff: boolean }) {
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
