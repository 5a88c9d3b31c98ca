import { useEffect, useState } from "react";

/** The YAML parser is only needed for MLmodel previews: load it on first use. */
const loadYaml = () => import("yaml").then((m) => m.default);
import * as api from "../api.js";
import { formatBytes, useLoad } from "../util.js";
import { ErrorBox } from "./common.js";

const IMAGE = /\.(png|jpe?g|gif|svg|webp|bmp|ico)$/i;
const CSV = /\.(csv|tsv)$/i;
const JSON_EXT = /\.(json|jsonl|ipynb)$/i;
const YAML_EXT = /(\.ya?ml|(^|\/)MLmodel|(^|\/)MLproject)$/;
const TEXT = /\.(txt|log|md|py|r|sh|toml|ini|cfg|conf|xml|html|js|ts|sql|requirements|lock|out|err|dvc)$|(^|\/)(requirements\.txt|Dockerfile|LICENSE|README)$/i;

export type PreviewKind = "image" | "csv" | "json" | "yaml" | "mlmodel" | "text" | "none";

export function previewKind(path: string): PreviewKind {
  const base = path.split("/").pop() ?? path;
  if (IMAGE.test(base)) return "image";
  if (CSV.test(base)) return "csv";
  if (JSON_EXT.test(base)) return "json";
  if (base === "MLmodel") return "mlmodel";
  if (YAML_EXT.test(base)) return "yaml";
  if (TEXT.test(base) || !base.includes(".")) return "text";
  return "none";
}

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF), or TSV. */
export function parseDelimited(text: string, delim: string, maxRows: number): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
      continue;
    }
    if (ch === '"' && field === "") quoted = true;
    else if (ch === delim) {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      if (rows.length >= maxRows) return rows;
    } else field += ch;
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function Tree({ run, path, depth, selected, onSelect }: { run: api.RunInfo; path: string; depth: number; selected?: string; onSelect: (p: string) => void }) {
  const list = useLoad(() => api.listArtifacts(run, path), [run.run_id, path]);
  const [open, setOpen] = useState<Set<string>>(() => new Set(selected ? ancestors(selected) : []));
  if (list.error) return <ErrorBox error={list.error} />;
  if (!list.data) return <p className="muted tree-loading">Loading…</p>;
  if (list.data.length === 0 && depth === 0) return <p className="muted">No artifacts.</p>;
  return (
    <ul role={depth === 0 ? "tree" : "group"} aria-label={depth === 0 ? "Artifacts" : undefined} className="tree">
      {list.data.map((f) => {
        const name = f.path.split("/").pop();
        if (f.is_dir) {
          const isOpen = open.has(f.path);
          return (
            <li key={f.path} role="treeitem" aria-expanded={isOpen} aria-selected={false}>
              <button
                type="button"
                className="tree-item dir"
                onClick={() => {
                  const next = new Set(open);
                  if (isOpen) next.delete(f.path);
                  else next.add(f.path);
                  setOpen(next);
                }}
              >
                <span aria-hidden="true">{isOpen ? "▾" : "▸"}</span> {name}/
              </button>
              {isOpen && <Tree run={run} path={f.path} depth={depth + 1} selected={selected} onSelect={onSelect} />}
            </li>
          );
        }
        return (
          <li key={f.path} role="treeitem" aria-selected={selected === f.path}>
            <button type="button" className={`tree-item${selected === f.path ? " current" : ""}`} onClick={() => onSelect(f.path)} aria-current={selected === f.path ? "true" : undefined}>
              <span className="file-name">{name}</span>
              <span className="muted size">{formatBytes(f.file_size)}</span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}

function ancestors(p: string): string[] {
  const parts = p.split("/");
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/"));
}

export function ArtifactBrowser({ run, selected, onSelect }: { run: api.RunInfo; selected?: string; onSelect: (p: string | undefined) => void }) {
  return (
    <div className="artifacts">
      <nav className="artifact-tree" aria-label="Artifact files">
        <Tree run={run} path="" depth={0} selected={selected} onSelect={onSelect} />
      </nav>
      <section className="artifact-preview" aria-label="Preview" aria-live="polite">
        {selected ? <Preview run={run} path={selected} /> : <p className="muted">Choose a file to preview it.</p>}
      </section>
    </div>
  );
}

function Preview({ run, path }: { run: api.RunInfo; path: string }) {
  const kind = previewKind(path);
  const url = api.artifactUrl(run, path);
  const [content, setContent] = useState<{ text: string; truncated: boolean }>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    setContent(undefined);
    setError(undefined);
    if (kind === "image" || kind === "none") return;
    let live = true;
    api.fetchArtifactText(run, path).then(
      (c) => live && setContent(c),
      (err: unknown) => live && setError(api.errorMessage(err)),
    );
    return () => {
      live = false;
    };
  }, [run, path, kind]);

  return (
    <div className="preview" data-kind={kind}>
      <div className="preview-head">
        <h3 className="mono">{path}</h3>
        <a className="button small" href={url} download={path.split("/").pop()}>
          Download
        </a>
      </div>
      <ErrorBox error={error} />
      {content?.truncated && <p className="muted">Showing the first 2 MB; download the file for the rest.</p>}
      {kind === "image" && <img src={url} alt={path} className="preview-image" />}
      {kind === "none" && <p className="muted">No preview for this file type.</p>}
      {content && <PreviewBody kind={kind} text={content.text} path={path} />}
    </div>
  );
}

function PreviewBody({ kind, text, path }: { kind: PreviewKind; text: string; path: string }) {
  if (kind === "csv") {
    const rows = parseDelimited(text, path.toLowerCase().endsWith(".tsv") ? "\t" : ",", 1001);
    const [head, ...body] = rows;
    return (
      <div className="table-scroll">
        <table className="grid csv-table">
          <caption className="sr-only">Contents of {path}</caption>
          <thead>
            <tr>{(head ?? []).map((h, i) => <th key={i} scope="col">{h}</th>)}</tr>
          </thead>
          <tbody>
            {body.map((r, i) => (
              <tr key={i}>{r.map((c, j) => <td key={j}>{c}</td>)}</tr>
            ))}
          </tbody>
        </table>
        {rows.length > 1000 && <p className="muted">First 1,000 rows.</p>}
      </div>
    );
  }
  if (kind === "json") {
    let pretty = text;
    try {
      pretty = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // JSON lines or invalid JSON: show as is
    }
    return <pre className="code json">{pretty}</pre>;
  }
  if (kind === "mlmodel") return <MLmodelPreview text={text} />;
  return <pre className={`code ${kind}`}>{text}</pre>;
}

function MLmodelPreview({ text }: { text: string }) {
  const [doc, setDoc] = useState<Record<string, unknown>>();
  useEffect(() => {
    let live = true;
    loadYaml().then(
      (YAML) => {
        try {
          const parsed: unknown = YAML.parse(text);
          if (live && parsed && typeof parsed === "object") setDoc(parsed as Record<string, unknown>);
        } catch {
          // not valid YAML: the raw text below is all we can show
        }
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [text]);
  {
    const flavors = doc && typeof doc.flavors === "object" && doc.flavors ? Object.entries(doc.flavors as Record<string, Record<string, unknown>>) : [];
    return (
      <>
        {doc && (
          <dl className="mlmodel-summary">
            {flavors.length > 0 && (
              <>
                <dt>Flavors</dt>
                <dd>
                  {flavors.map(([name, f]) => (
                    <span key={name} className="badge">
                      {name}
                      {f && typeof f === "object" && (f as Record<string, unknown>)[`${name}_version`] ? ` ${String((f as Record<string, unknown>)[`${name}_version`])}` : ""}
                    </span>
                  ))}
                </dd>
              </>
            )}
            {typeof doc.model_uuid === "string" && (
              <>
                <dt>Model UUID</dt>
                <dd className="mono">{doc.model_uuid}</dd>
              </>
            )}
            {doc.utc_time_created !== undefined && (
              <>
                <dt>Created</dt>
                <dd>{String(doc.utc_time_created)}</dd>
              </>
            )}
            {doc.signature !== undefined && (
              <>
                <dt>Signature</dt>
                <dd>present</dd>
              </>
            )}
          </dl>
        )}
        <pre className="code yaml">{text}</pre>
      </>
    );
  }
}
