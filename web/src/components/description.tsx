import { useState } from "react";
import * as api from "../api.js";
import { ErrorBox } from "./common.js";
import { Markdown } from "./markdown.js";

/** The words of a Markdown card: a model's description, a run's notes. */
interface CardWords {
  title: string;
  edit: string;
  /** The edit button's text while the text is empty (default: `edit`). */
  add?: string;
  save: string;
  empty: string;
  placeholder?: string;
  /** The textarea's id, unique on the page. */
  id: string;
  className?: string;
}

const DESCRIPTION: CardWords = { title: "Description", edit: "Edit description", save: "Save", empty: "No description.", id: "desc-text" };

/** A card with a Markdown description, rendered, and an editor behind "Edit description". */
export function Description({ text, onSave, label }: { text: string; onSave: (t: string) => Promise<unknown>; label: string }) {
  return <MarkdownCard text={text} onSave={onSave} label={label} words={DESCRIPTION} />;
}

/** A card with Markdown text, rendered (sanitized), and an editor behind its edit button. */
export function MarkdownCard({ text, onSave, label, words }: { text: string; onSave: (t: string) => Promise<unknown>; label: string; words: CardWords }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(text);
  const [error, setError] = useState<string>();
  return (
    <section className={words.className ? `card ${words.className}` : "card"} aria-label={label}>
      <div className="card-head">
        <h2>{words.title}</h2>
        {!editing && (
          <button
            type="button"
            className="small"
            onClick={() => {
              setDraft(text);
              setEditing(true);
            }}
          >
            {text || !words.add ? words.edit : words.add}
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
          <label className="sr-only" htmlFor={words.id}>
            {words.title} (Markdown)
          </label>
          <textarea id={words.id} rows={6} value={draft} onChange={(e) => setDraft(e.target.value)} autoFocus placeholder={words.placeholder} />
          <div className="form-actions">
            <button type="submit" className="primary">
              {words.save}
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
        <p className="muted">{words.empty}</p>
      )}
    </section>
  );
}
