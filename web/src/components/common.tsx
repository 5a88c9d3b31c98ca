import { useState, type ReactNode } from "react";
import type { KeyValue } from "../api.js";
import { errorMessage } from "../api.js";

export function ErrorBox({ error, id }: { error: string | undefined; id?: string }) {
  if (!error) return null;
  return (
    <div className="error-box" role="alert" id={id}>
      {error}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function StatusBadge({ status }: { status: string | undefined }) {
  const s = (status ?? "").toUpperCase();
  return <span className={`badge status-${s.toLowerCase()}`}>{s ? s[0] + s.slice(1).toLowerCase() : "—"}</span>;
}

/** Key/value tags with add, edit and delete; `onSet`/`onDelete` call the API. */
export function TagEditor({
  tags,
  onSet,
  onDelete,
  hidePrefix = "mlflow.",
  label = "Tags",
}: {
  tags: KeyValue[];
  onSet: (key: string, value: string) => Promise<unknown>;
  onDelete: (key: string) => Promise<unknown>;
  hidePrefix?: string;
  label?: string;
}) {
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const [editing, setEditing] = useState<string>();
  const [editValue, setEditValue] = useState("");
  const [error, setError] = useState<string>();
  const [showSystem, setShowSystem] = useState(false);
  const run = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      return true;
    } catch (err) {
      setError(errorMessage(err));
      return false;
    }
  };
  const visible = tags.filter((t) => showSystem || !t.key.startsWith(hidePrefix)).sort((a, b) => a.key.localeCompare(b.key));
  const hidden = tags.length - tags.filter((t) => !t.key.startsWith(hidePrefix)).length;
  return (
    <section aria-label={label} className="tag-editor">
      <table className="kv">
        <tbody>
          {visible.map((t) => (
            <tr key={t.key}>
              <th scope="row">{t.key}</th>
              <td>
                {editing === t.key ? (
                  <form
                    className="inline-form"
                    onSubmit={async (e) => {
                      e.preventDefault();
                      if (await run(() => onSet(t.key, editValue))) setEditing(undefined);
                    }}
                  >
                    <label className="sr-only" htmlFor={`tag-edit-${t.key}`}>
                      Value of {t.key}
                    </label>
                    <input id={`tag-edit-${t.key}`} autoFocus value={editValue} onChange={(e) => setEditValue(e.target.value)} onKeyDown={(e) => e.key === "Escape" && setEditing(undefined)} />
                    <button type="submit" className="small primary">
                      Save
                    </button>
                    <button type="button" className="small" onClick={() => setEditing(undefined)}>
                      Cancel
                    </button>
                  </form>
                ) : (
                  <span className="tag-value">{t.value}</span>
                )}
              </td>
              <td className="actions">
                {editing !== t.key && (
                  <>
                    <button
                      type="button"
                      className="small"
                      aria-label={`Edit tag ${t.key}`}
                      onClick={() => {
                        setEditing(t.key);
                        setEditValue(t.value);
                      }}
                    >
                      Edit
                    </button>
                    <button type="button" className="small danger" aria-label={`Delete tag ${t.key}`} onClick={() => run(() => onDelete(t.key))}>
                      Delete
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {hidden > 0 && (
        <button type="button" className="link-button" onClick={() => setShowSystem((v) => !v)}>
          {showSystem ? "Hide" : "Show"} {hidden} system tag{hidden === 1 ? "" : "s"}
        </button>
      )}
      <form
        className="inline-form add-tag"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!key.trim()) return;
          if (await run(() => onSet(key.trim(), value))) {
            setKey("");
            setValue("");
          }
        }}
      >
        <label>
          <span className="sr-only">New tag key</span>
          <input placeholder="key" value={key} onChange={(e) => setKey(e.target.value)} aria-label="New tag key" />
        </label>
        <label>
          <span className="sr-only">New tag value</span>
          <input placeholder="value" value={value} onChange={(e) => setValue(e.target.value)} aria-label="New tag value" />
        </label>
        <button type="submit" className="small" disabled={!key.trim()}>
          Add tag
        </button>
      </form>
      <ErrorBox error={error} />
    </section>
  );
}

export function Tabs<T extends string>({ tabs, current, onChange, label }: { tabs: { id: T; label: string }[]; current: T; onChange: (id: T) => void; label: string }) {
  return (
    <div role="tablist" aria-label={label} className="tabs">
      {tabs.map((t, i) => (
        <button
          key={t.id}
          role="tab"
          type="button"
          id={`tab-${t.id}`}
          aria-selected={current === t.id}
          aria-controls={`panel-${t.id}`}
          tabIndex={current === t.id ? 0 : -1}
          onClick={() => onChange(t.id)}
          onKeyDown={(e) => {
            const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
            if (!d) return;
            e.preventDefault();
            const next = tabs[(i + d + tabs.length) % tabs.length]!;
            onChange(next.id);
            window.requestAnimationFrame(() => document.getElementById(`tab-${next.id}`)?.focus());
          }}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}
