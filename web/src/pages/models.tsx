import { useState, type FormEvent } from "react";
import * as api from "../api.js";
import { Link, setQuery, useLocation, useTitle } from "../router.js";
import { Empty, ErrorBox, TagEditor } from "../components/common.js";
import { Markdown } from "../components/markdown.js";
import { Lineage } from "../components/lineage.js";
import { formatTime, useLoad } from "../util.js";

const modelPath = (name: string) => `/models/${encodeURIComponent(name)}`;
const versionPath = (name: string, v: string) => `${modelPath(name)}/versions/${encodeURIComponent(v)}`;

function searchFilter(q: string): string | undefined {
  const t = q.trim();
  if (!t) return undefined;
  if (/[=<>]|\bLIKE\b/i.test(t)) return t;
  return `name ILIKE '%${t.replace(/'/g, "\\'")}%'`;
}

export function ModelsPage() {
  useTitle("Models");
  const { query } = useLocation();
  const q = query.get("q") ?? "";
  const [draft, setDraft] = useState(q);
  const list = useLoad(async () => {
    const out: api.RegisteredModel[] = [];
    let token: string | undefined;
    do {
      const res = await api.searchRegisteredModels(searchFilter(q) ?? "", token);
      out.push(...(res.registered_models ?? []));
      token = res.next_page_token;
    } while (token && out.length < 2000);
    return out;
  }, [q]);
  return (
    <main className="page" id="main">
      <h1>Registered models</h1>
      <div className="toolbar">
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setQuery({ q: draft });
          }}
        >
          <label htmlFor="model-search">Search models</label>
          <input id="model-search" type="search" placeholder="Name contains… or a filter like tags.team = 'cv'" value={draft} onChange={(e) => setDraft(e.target.value)} />
          <button type="submit">Search</button>
        </form>
      </div>
      <ErrorBox error={list.error} />
      {list.data && list.data.length === 0 ? (
        <Empty>{q ? `No model matches “${q}”.` : "No registered models yet. Register one with mlflow.register_model or mloop models register."}</Empty>
      ) : (
        <table className="grid">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Latest version</th>
              <th scope="col">Aliases</th>
              <th scope="col">Last modified</th>
              <th scope="col">Tags</th>
            </tr>
          </thead>
          <tbody>
            {(list.data ?? []).map((m) => {
              const latest = [...(m.latest_versions ?? [])].sort((a, b) => Number(b.version) - Number(a.version))[0];
              return (
                <tr key={m.name}>
                  <td>
                    <Link to={modelPath(m.name)}>{m.name}</Link>
                  </td>
                  <td>{latest ? <Link to={versionPath(m.name, latest.version)}>Version {latest.version}</Link> : "—"}</td>
                  <td>
                    {(m.aliases ?? []).map((a) => (
                      <span key={a.alias} className="badge alias">
                        @{a.alias} → v{a.version}
                      </span>
                    ))}
                  </td>
                  <td>{formatTime(m.last_updated_timestamp)}</td>
                  <td>
                    {(m.tags ?? []).map((t) => (
                      <span key={t.key} className="badge">
                        {t.key}: {t.value}
                      </span>
                    ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </main>
  );
}

function Description({ text, onSave, label }: { text: string; onSave: (t: string) => Promise<unknown>; label: string }) {
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

export function ModelPage({ name }: { name: string }) {
  useTitle(name);
  const model = useLoad(() => api.getRegisteredModel(name), [name]);
  const versions = useLoad(() => api.searchModelVersions(name), [name]);
  const [alias, setAlias] = useState("");
  const [aliasVersion, setAliasVersion] = useState("");
  const [error, setError] = useState<string>();
  const act = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      model.reload();
      versions.reload();
      return true;
    } catch (err) {
      setError(api.errorMessage(err));
      return false;
    }
  };
  const handleAlias = async (e: FormEvent) => {
    e.preventDefault();
    if (await act(() => api.setModelAlias(name, alias.trim(), aliasVersion))) setAlias("");
  };
  const m = model.data;
  const aliasesByVersion = new Map<string, string[]>();
  for (const a of m?.aliases ?? []) aliasesByVersion.set(a.version, [...(aliasesByVersion.get(a.version) ?? []), a.alias]);
  return (
    <main className="page" id="main">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/models">Models</Link> <span aria-hidden="true">›</span> <span>{name}</span>
      </nav>
      <div className="page-head">
        <h1>{name}</h1>
        {m && (
          <div className="head-meta muted">
            Created {formatTime(m.creation_timestamp)} · Last modified {formatTime(m.last_updated_timestamp)}
          </div>
        )}
      </div>
      <ErrorBox error={model.error ?? error} />
      {m && <Description label="Model description" text={m.description ?? ""} onSave={(t) => act(() => api.updateRegisteredModel(name, t))} />}
      <section className="card" aria-labelledby="h-versions">
        <h2 id="h-versions">Versions</h2>
        <ErrorBox error={versions.error} />
        <table className="grid">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Registered</th>
              <th scope="col">Aliases</th>
              <th scope="col">Stage</th>
              <th scope="col">Status</th>
              <th scope="col">Source run</th>
              <th scope="col">Description</th>
            </tr>
          </thead>
          <tbody>
            {(versions.data ?? []).map((v) => (
              <tr key={v.version}>
                <td>
                  <Link to={versionPath(name, v.version)}>Version {v.version}</Link>
                </td>
                <td>{formatTime(v.creation_timestamp)}</td>
                <td>
                  {(aliasesByVersion.get(v.version) ?? v.aliases ?? []).map((a) => (
                    <span key={a} className="badge alias">
                      @{a}
                    </span>
                  ))}
                </td>
                <td>{v.current_stage && v.current_stage !== "None" ? <span className={`badge stage-${v.current_stage.toLowerCase()}`}>{v.current_stage}</span> : "—"}</td>
                <td>{v.status ?? ""}</td>
                <td>{v.run_id ? <Link to={`/runs/${encodeURIComponent(v.run_id)}`} className="mono">{v.run_id.slice(0, 8)}</Link> : "—"}</td>
                <td className="wrap">{v.description}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section className="card" aria-labelledby="h-aliases">
        <h2 id="h-aliases">Aliases</h2>
        <ul className="plain">
          {(m?.aliases ?? []).map((a) => (
            <li key={a.alias}>
              <span className="badge alias">@{a.alias}</span> → <Link to={versionPath(name, a.version)}>Version {a.version}</Link>{" "}
              <button type="button" className="small danger" aria-label={`Delete alias ${a.alias}`} onClick={() => act(() => api.deleteModelAlias(name, a.alias))}>
                Delete
              </button>
            </li>
          ))}
        </ul>
        <form className="inline-form" onSubmit={handleAlias} aria-label="Set alias">
          <label>
            Alias <input value={alias} onChange={(e) => setAlias(e.target.value)} placeholder="champion" />
          </label>
          <label>
            Version{" "}
            <select value={aliasVersion} onChange={(e) => setAliasVersion(e.target.value)}>
              <option value="">Choose…</option>
              {(versions.data ?? []).map((v) => (
                <option key={v.version} value={v.version}>
                  {v.version}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="small primary" disabled={!alias.trim() || !aliasVersion}>
            Set alias
          </button>
        </form>
      </section>
      {m && (
        <section className="card" aria-labelledby="h-model-tags">
          <h2 id="h-model-tags">Tags</h2>
          <TagEditor
            tags={m.tags ?? []}
            onSet={(k, v) => api.setModelTag(name, k, v).then(model.reload)}
            onDelete={(k) => api.deleteModelTag(name, k).then(model.reload)}
          />
        </section>
      )}
    </main>
  );
}

const STAGES = ["None", "Staging", "Production", "Archived"];

export function ModelVersionPage({ name, version }: { name: string; version: string }) {
  useTitle(`${name} v${version}`);
  const mv = useLoad(() => api.getModelVersion(name, version), [name, version]);
  const [error, setError] = useState<string>();
  const [archive, setArchive] = useState(false);
  const v = mv.data;
  const act = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      mv.reload();
    } catch (err) {
      setError(api.errorMessage(err));
    }
  };
  return (
    <main className="page" id="main">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/models">Models</Link> <span aria-hidden="true">›</span> <Link to={modelPath(name)}>{name}</Link> <span aria-hidden="true">›</span>{" "}
        <span>Version {version}</span>
      </nav>
      <h1>
        {name} <span className="muted">version {version}</span>
      </h1>
      <ErrorBox error={mv.error ?? error} />
      {v && (
        <>
          <section className="card" aria-labelledby="h-mv">
            <h2 id="h-mv">Details</h2>
            <dl className="details">
              <dt>Registered</dt>
              <dd>{formatTime(v.creation_timestamp)}</dd>
              <dt>Last modified</dt>
              <dd>{formatTime(v.last_updated_timestamp)}</dd>
              <dt>Status</dt>
              <dd>
                {v.status}
                {v.status_message ? ` — ${v.status_message}` : ""}
              </dd>
              <dt>Aliases</dt>
              <dd>{(v.aliases ?? []).length ? (v.aliases ?? []).map((a) => <span key={a} className="badge alias">@{a}</span>) : "—"}</dd>
              <dt>Source run</dt>
              <dd>
                {v.run_id ? (
                  <Link to={`/runs/${encodeURIComponent(v.run_id)}`} className="mono" id="source-run-link">
                    {v.run_id}
                  </Link>
                ) : (
                  "—"
                )}
              </dd>
              {v.model_id && (
                <>
                  <dt>Logged model</dt>
                  <dd>
                    <LoggedModelSummary modelId={v.model_id} />
                  </dd>
                </>
              )}
              <dt>Source</dt>
              <dd className="mono wrap">{v.source}</dd>
              {v.user_id && (
                <>
                  <dt>User</dt>
                  <dd>{v.user_id}</dd>
                </>
              )}
              <dt>Stage</dt>
              <dd>
                <label className="sr-only" htmlFor="stage-select">
                  Stage
                </label>
                <select id="stage-select" value={v.current_stage ?? "None"} onChange={(e) => act(() => api.transitionStage(name, version, e.target.value, archive))}>
                  {STAGES.map((s) => (
                    <option key={s}>{s}</option>
                  ))}
                </select>{" "}
                <label className="check">
                  <input type="checkbox" checked={archive} onChange={(e) => setArchive(e.target.checked)} /> Archive other versions in the new stage
                </label>
              </dd>
            </dl>
          </section>
          {v.run_id && <Lineage runId={v.run_id} />}
          <Description label="Version description" text={v.description ?? ""} onSave={(t) => act(() => api.updateModelVersion(name, version, t))} />
          <section className="card" aria-labelledby="h-mv-tags">
            <h2 id="h-mv-tags">Tags</h2>
            <TagEditor
              tags={v.tags ?? []}
              onSet={(k, val) => api.setVersionTag(name, version, k, val).then(mv.reload)}
              onDelete={(k) => api.deleteVersionTag(name, version, k).then(mv.reload)}
            />
          </section>
        </>
      )}
    </main>
  );
}

function LoggedModelSummary({ modelId }: { modelId: string }) {
  const m = useLoad(() => api.getLoggedModel(modelId), [modelId]);
  const info = m.data?.info;
  return (
    <span className="logged-model">
      <span className="mono">{modelId}</span>
      {info?.name && <span> · {info.name}</span>}
      {info?.status && <span className="muted"> · {info.status}</span>}
      {info?.source_run_id && (
        <>
          {" · logged by run "}
          <Link to={`/runs/${encodeURIComponent(info.source_run_id)}`} className="mono">
            {info.source_run_id.slice(0, 8)}
          </Link>
        </>
      )}
      {m.error && <span className="muted"> ({m.error})</span>}
    </span>
  );
}
