import type { ReactNode } from "react";

/** One row of a {@link KeyValueTable}: the key (or a `label` for it), the value, and an optional third cell. */
export interface KeyValueRow {
  key: string;
  label?: ReactNode;
  value: ReactNode;
  extra?: ReactNode;
}

/** A two-column table of keys and values (params, metrics, settings), keys as row headers. */
export function KeyValueTable({ rows, valueClassName }: { rows: KeyValueRow[]; valueClassName?: string }) {
  return (
    <table className="kv">
      <tbody>
        {rows.map((r) => (
          <tr key={r.key}>
            <th scope="row">{r.label ?? r.key}</th>
            <td className={valueClassName}>{r.value}</td>
            {r.extra !== undefined && <td className="muted">{r.extra}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
