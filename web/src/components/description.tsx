import { useState } from "react";
import * as api from "../api.js";
import { ErrorBox } from "./common.js";
import { Markdown } from "./markdown.js";

/** A card with a Markdown description, rendered, and an editor behind "Edit description". */
export function Description({ text, onSave, label }: { text: string; onSave: (t: string) => Promise<unknown>; label: string }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(text);
  const [error, setError] = useState<string>();
  return (
    <section className="card" aria-label={label}>
      <div className="card-head">
        <h2>Description</h2>
        {!editing && (
          <button
            type="button"
            className="small"
            onClick={() => {
              setDraft(text);
              setEditing(true);
            }}
          >
            Edit description
          </button>
        )}
      </div>
      {editing ? (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setError(undefined);
            try {
              await onSave(draft);
              setEditing(false);
            } catch (err) {
              setError(api.errorMessage(err));
            }
          }}
        >
          <label className="sr-only" htmlFor="desc-text">
            Description (Markdown)
          </label>
          <textarea id="desc-text" rows={6} value={draft} onChange={(e) => setDraft(e.target.value)} autoFocus />
          <div className="form-actions">
            <button type="submit" className="primary">
              Save
            </button>
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
          <ErrorBox error={error} />
        </form>
      ) : text ? (
        <Markdown text={text} />
      ) : (
        <p className="muted">No description.</p>
      )}
    </section>
  );
}
