/** Tables of registered models and of model versions, with their aliases and stages (the registry pages; later the deployments pages). */
import type * as api from "../api.js";
import { Link } from "../router.js";
import { formatTime } from "../util.js";

export const modelPath = (name: string) => `/models/${encodeURIComponent(name)}`;
export const versionPath = (name: string, v: string) => `${modelPath(name)}/versions/${encodeURIComponent(v)}`;

/** Registered models: name, latest version, aliases, last change, tags. */
export function RegisteredModelsTable({ models }: { models: api.RegisteredModel[] }) {
  return (
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
        {models.map((m) => {
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
  );
}

/** The versions of one model; `aliasesByVersion` (from the model) wins over each version's own list. */
export function ModelVersionsTable({ name, versions, aliasesByVersion }: { name: string; versions: api.ModelVersion[]; aliasesByVersion: Map<string, string[]> }) {
  return (
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
        {versions.map((v) => (
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
  );
}
