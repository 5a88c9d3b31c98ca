import { useState, type FormEvent } from "react";
import * as api from "../api.js";
import { Link, navigate, setQuery, useLocation, useTitle } from "../router.js";
import { formatTime, useLoad } from "../util.js";
import { ErrorBox, Empty } from "../components/common.js";

function nameFilter(q: string): string | undefined {
  const t = q.trim();
  if (!t) return undefined;
  return `name ILIKE '%${t.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}%'`;
}

export function ExperimentsPage() {
  useTitle("Experiments");
  const { query } = useLocation();
  const q = query.get("q") ?? "";
  const view = query.get("view") === "deleted" ? "DELETED_ONLY" : "ACTIVE_ONLY";
  const [draft, setDraft] = useState(q);
  const [newName, setNewName] = useState("");
  const [actionError, setActionError] = useState<string>();
  const [renaming, setRenaming] = useState<{ id: string; name: string }>();

  const list = useLoad(async () => {
    const out: api.Experiment[] = [];
    let token: string | undefined;
    do {
      const res = await api.searchExperiments({ filter: nameFilter(q), viewType: view, pageToken: token });
      out.push(...(res.experiments ?? []));
      token = res.next_page_token;
    } while (token && out.length < 20_000);
    return out;
  }, [q, view]);

  const act = async (fn: () => Promise<unknown>) => {
    setActionError(undefined);
    try {
      await fn();
      list.reload();
    } catch (err) {
      setActionError(api.errorMessage(err));
    }
  };

  const handleCreate = async (e: FormEvent) => {
    e.preventDefault();
    const name = newName.trim();
    if (!name) return;
    setActionError(undefined);
    try {
      const id = await api.createExperiment(name);
      setNewName("");
      navigate(`/experiments/${encodeURIComponent(id)}`);
    } catch (err) {
      setActionError(api.errorMessage(err));
    }
  };

  const handleRename = async (e: FormEvent) => {
    e.preventDefault();
    if (!renaming) return;
    const { id, name } = renaming;
    await act(() => api.renameExperiment(id, name.trim()));
    setRenaming(undefined);
  };

  return (
    <main className="page" id="main">
      <div className="page-head">
        <h1>Experiments</h1>
        <form className="inline-form" onSubmit={handleCreate} aria-label="Create experiment">
          <label htmlFor="new-exp" className="sr-only">
            New experiment name
          </label>
          <input id="new-exp" placeholder="New experiment name" value={newName} onChange={(e) => setNewName(e.target.value)} />
          <button type="submit" className="primary" disabled={!newName.trim()}>
            Create
          </button>
        </form>
      </div>
      <div className="toolbar">
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setQuery({ q: draft });
          }}
        >
          <label htmlFor="exp-search">Search experiments</label>
          <input id="exp-search" type="search" placeholder="Name contains…" value={draft} onChange={(e) => setDraft(e.target.value)} />
          <button type="submit">Search</button>
        </form>
        <div className="segmented" role="group" aria-label="Lifecycle">
          <button type="button" aria-pressed={view === "ACTIVE_ONLY"} onClick={() => setQuery({ view: undefined })}>
            Active
          </button>
          <button type="button" aria-pressed={view === "DELETED_ONLY"} onClick={() => setQuery({ view: "deleted" })}>
            Deleted
          </button>
        </div>
      </div>
      <ErrorBox error={actionError ?? list.error} />
      {list.data && list.data.length === 0 ? (
        <Empty>{q ? `No experiment matches “${q}”.` : view === "DELETED_ONLY" ? "No deleted experiments." : "No experiments yet: create one above."}</Empty>
      ) : (
        <table className="grid">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">ID</th>
              <th scope="col">Last updated</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(list.data ?? []).map((e) => (
              <tr key={e.experiment_id}>
                <td>
                  {renaming?.id === e.experiment_id ? (
                    <form className="inline-form" onSubmit={handleRename}>
                      <label htmlFor={`rename-${e.experiment_id}`} className="sr-only">
                        New name for {e.name}
                      </label>
                      <input
                        id={`rename-${e.experiment_id}`}
                        autoFocus
                        value={renaming.name}
                        onChange={(ev) => setRenaming({ id: e.experiment_id, name: ev.target.value })}
                        onKeyDown={(ev) => ev.key === "Escape" && setRenaming(undefined)}
                      />
                      <button type="submit" className="primary">
                        Save
                      </button>
                      <button type="button" onClick={() => setRenaming(undefined)}>
                        Cancel
                      </button>
                    </form>
                  ) : (
                    <Link to={`/experiments/${encodeURIComponent(e.experiment_id)}`}>{e.name}</Link>
                  )}
                </td>
                <td className="mono">{e.experiment_id}</td>
                <td>{formatTime(e.last_update_time)}</td>
                <td>{formatTime(e.creation_time)}</td>
                <td className="actions">
                  {e.lifecycle_stage === "active" ? (
                    <>
                      <button type="button" className="small" onClick={() => setRenaming({ id: e.experiment_id, name: e.name })} aria-label={`Rename ${e.name}`}>
                        Rename
                      </button>
                      <button
                        type="button"
                        className="small danger"
                        aria-label={`Delete ${e.name}`}
                        onClick={() => window.confirm(`Delete experiment “${e.name}”? It can be restored later.`) && act(() => api.deleteExperiment(e.experiment_id))}
                      >
                        Delete
                      </button>
                    </>
                  ) : (
                    <button type="button" className="small" aria-label={`Restore ${e.name}`} onClick={() => act(() => api.restoreExperiment(e.experiment_id))}>
                      Restore
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.loading && !list.data && <p className="muted">Loading…</p>}
    </main>
  );
}
