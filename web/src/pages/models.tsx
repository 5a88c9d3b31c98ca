import { useState } from "react";
import * as api from "../api.js";
import { Link, setQuery, useLocation, useTitle } from "../router.js";
import { AliasEditor } from "../components/alias-editor.js";
import { Empty, ErrorBox, TagEditor } from "../components/common.js";
import { Description } from "../components/description.js";
import { LoggedModelSummary } from "../components/logged-model-summary.js";
import { ModelVersionsTable, RegisteredModelsTable, modelPath } from "../components/model-tables.js";
import { Lineage } from "../components/lineage.js";
import { formatTime, useLoad } from "../util.js";

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
        <RegisteredModelsTable models={list.data ?? []} />
      )}
    </main>
  );
}

export function ModelPage({ name }: { name: string }) {
  useTitle(name);
  const model = useLoad(() => api.getRegisteredModel(name), [name]);
  const versions = useLoad(() => api.searchModelVersions(name), [name]);
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
        <ModelVersionsTable name={name} versions={versions.data ?? []} aliasesByVersion={aliasesByVersion} />
      </section>
      <section className="card" aria-labelledby="h-aliases">
        <h2 id="h-aliases">Aliases</h2>
        <AliasEditor
          name={name}
          aliases={m?.aliases ?? []}
          versions={versions.data ?? []}
          onSet={(alias, version) => act(() => api.setModelAlias(name, alias, version))}
          onDelete={(alias) => act(() => api.deleteModelAlias(name, alias))}
        />
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
