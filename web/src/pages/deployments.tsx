/**
 * Deployments (`mloop deploy`): each deployment's state, and per deployment the
 * timeline of every decision with its reason and links to the runs and
 * versions involved, with drift (overall and per feature) and live accuracy
 * per monitoring window.
 */
import * as api from "../api.js";
import { Empty, ErrorBox } from "../components/common.js";
import { MetricChart } from "../components/metric-chart.js";
import { Link, useTitle } from "../router.js";
import { formatTime, useLoad } from "../util.js";

interface SpecShape {
  model?: { name?: string; alias?: string };
}

function modelOf(d: api.DeploymentInfo): { name: string; alias: string } {
  const m = (d.spec as SpecShape | null)?.model;
  return { name: m?.name ?? "", alias: m?.alias ?? "champion" };
}

const STATE_LABEL: Record<string, string> = {
  serving: "serving",
  drift_detected: "drift detected",
  retraining: "retraining",
  evaluating: "evaluating",
  canary: "canary",
  promoted: "promoted",
  refused: "refused",
  rolled_back: "rolled back",
};

export function DeploymentsPage() {
  useTitle("Deployments");
  const list = useLoad(() => api.listDeployments(), []);
  return (
    <main className="page" id="main">
      <h1>Deployments</h1>
      <ErrorBox error={list.error} />
      {list.data && list.data.length === 0 ? (
        <Empty>No deployments yet. Start one with mloop deploy apply deploy.yaml.</Empty>
      ) : (
        <table className="grid">
          <thead>
            <tr>
              <th scope="col">Deployment</th>
              <th scope="col">Model</th>
              <th scope="col">State</th>
              <th scope="col">Since</th>
            </tr>
          </thead>
          <tbody>
            {(list.data ?? []).map((d) => {
              const m = modelOf(d);
              return (
                <tr key={d.name}>
                  <td>
                    <Link to={`/deployments/${encodeURIComponent(d.name)}`}>{d.name}</Link>
                  </td>
                  <td>
                    <Link to={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link> @{m.alias}
                  </td>
                  <td>{STATE_LABEL[d.state] ?? d.state}</td>
                  <td>{formatTime(d.updated_at)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </main>
  );
}

/** The ids an event links: runs and model versions. */
function EventLinks({ data, model }: { data: Record<string, unknown>; model: string }) {
  const str = (k: string) => (typeof data[k] === "string" ? (data[k] as string) : undefined);
  const links: { to: string; label: string }[] = [];
  const run = str("run_id");
  if (run) links.push({ to: `/runs/${run}`, label: "retraining run" });
  const evalRun = str("evaluation_run_id");
  if (evalRun) links.push({ to: `/runs/${evalRun}`, label: "evaluation run" });
  const monitor = str("monitor_run_id");
  if (monitor) links.push({ to: `/runs/${monitor}`, label: `monitoring window ${String(data.window ?? "")}`.trim() });
  for (const k of ["candidate_version", "to_version", "champion_version", "from_version"]) {
    const v = str(k);
    if (v && !links.some((l) => l.to.endsWith(`/versions/${v}`))) links.push({ to: `/models/${encodeURIComponent(model)}/versions/${v}`, label: `version ${v}` });
  }
  return (
    <>
      {links.map((l, i) => (
        <span key={l.to}>
          {i > 0 && " · "}
          <Link to={l.to}>{l.label}</Link>
        </span>
      ))}
    </>
  );
}

const pct = (share: number) => `${Math.round(share * 1000) / 10}%`;

/** The versions serving now with their shares of the traffic (and the mode). */
function ServedVersions({ d, model }: { d: api.DeploymentInfo; model: string }) {
  return (
    <section aria-labelledby="served-title">
      <h2 id="served-title">Versions served</h2>
      <table className="grid" id="served">
        <thead>
          <tr>
            <th scope="col">Role</th>
            <th scope="col">Version</th>
            <th scope="col">Share of traffic</th>
            <th scope="col">Mode</th>
          </tr>
        </thead>
        <tbody>
          {(d.served ?? []).map((s) => (
            <tr key={s.role}>
              <td>
                {s.role} @{s.alias}
              </td>
              <td>{s.version ? <Link to={`/models/${encodeURIComponent(model)}/versions/${s.version}`}>{`version ${s.version}`}</Link> : "not set"}</td>
              <td>{s.mode === "shadow" ? `0% (mirrors ${pct(s.shadow_share ?? 0)})` : pct(s.share)}</td>
              <td>{s.mode}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

const CHART_SETTINGS = { xMode: "step" as const, smoothing: 0, logY: false };

export function DeploymentPage({ name }: { name: string }) {
  useTitle(`Deployment ${name}`);
  const loaded = useLoad(async () => {
    const [deployment, events] = await Promise.all([api.getDeployment(name), api.listDeploymentEvents(name)]);
    let monitorRunId = [...events].reverse().find((e) => typeof e.data.monitor_run_id === "string")?.data.monitor_run_id as string | undefined;
    if (!monitorRunId) {
      const exp = await api.get<{ experiment: api.Experiment }>("experiments/get-by-name", { experiment_name: "mloop-monitoring" }).catch(() => undefined);
      if (exp) {
        const runs = await api.searchRuns({ experimentIds: [exp.experiment.experiment_id], filter: `tags.\`mloop.deployment\` = '${name.replace(/'/g, "\\'")}'`, maxResults: 1 });
        monitorRunId = runs.runs?.[0]?.info.run_id;
      }
    }
    // Per-feature drift: the monitoring run's `drift_score.<column>` metrics.
    const features = monitorRunId ? ((await api.getRun(monitorRunId)).data.metrics ?? []).map((m) => m.key).filter((k) => k.startsWith("drift_score.")).sort() : [];
    return { deployment, events, monitorRunId, features };
  }, [name]);
  const d = loaded.data?.deployment;
  const m = d ? modelOf(d) : { name: "", alias: "" };
  const monitorRun = loaded.data?.monitorRunId;
  return (
    <main className="page" id="main">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/deployments">Deployments</Link> <span aria-hidden="true">›</span> <span>{name}</span>
      </nav>
      <h1>{name}</h1>
      <ErrorBox error={loaded.error} />
      {d && (
        <p id="deployment-state">
          <strong>{STATE_LABEL[d.state] ?? d.state}</strong> since {formatTime(d.updated_at)} · serves <Link to={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link> @{m.alias}
        </p>
      )}
      {d && <ServedVersions d={d} model={m.name} />}
      {monitorRun && (
        <section aria-labelledby="drift-title">
          <h2 id="drift-title">Drift and live accuracy per window</h2>
          <div className="charts">
            <MetricChart runs={[{ id: monitorRun, name: "drift share" }]} metricKey="drift_share" settings={CHART_SETTINGS} title="drift_share" height={200} />
            <MetricChart runs={[{ id: monitorRun, name: "accuracy" }]} metricKey="accuracy" settings={CHART_SETTINGS} title="accuracy" height={200} />
          </div>
          {(loaded.data?.features.length ?? 0) > 0 && (
            <>
              <h3 id="feature-drift-title">Drift score per feature</h3>
              <div className="charts" id="feature-drift">
                {loaded.data!.features.map((k) => (
                  <MetricChart key={k} runs={[{ id: monitorRun, name: k.slice("drift_score.".length) }]} metricKey={k} settings={CHART_SETTINGS} title={k.slice("drift_score.".length)} height={160} />
                ))}
              </div>
            </>
          )}
        </section>
      )}
      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title">Timeline</h2>
        <table className="grid" id="timeline">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Time</th>
              <th scope="col">Transition</th>
              <th scope="col">Reason</th>
              <th scope="col">Links</th>
            </tr>
          </thead>
          <tbody>
            {(loaded.data?.events ?? []).map((e) => (
              <tr key={e.seq}>
                <td>{e.seq}</td>
                <td>{formatTime(e.timestamp_ms)}</td>
                <td>
                  {e.from_state ? `${STATE_LABEL[e.from_state] ?? e.from_state} → ` : ""}
                  {STATE_LABEL[e.to_state] ?? e.to_state}
                </td>
                <td>{e.reason}</td>
                <td>
                  <EventLinks data={e.data} model={m.name} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </main>
  );
}
