import { useEffect, useRef, useState } from "react";
import { columnId, parseColumnId, type Column } from "../util.js";

/** A popover of checkboxes choosing which params, metrics and tags are shown as columns (ids `params.<key>`, …). */
export function ColumnPicker({ available, chosen, onChange }: { available: Record<"params" | "metrics" | "tags", Set<string>>; chosen: string[]; onChange: (ids: string[]) => void }) {
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

/** A labelled select of one param or metric column. */
export function ColumnSelect({ label, value, columns, onChange }: { label: string; value: Column; columns: Column[]; onChange: (c: Column) => void }) {
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
