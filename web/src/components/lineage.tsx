/**
 * The lineage of a model version, as `mloop lineage` walks it: the source run, its git commit,
 * the md5 of every input, and for inputs a pipeline stage wrote, that stage's run (found by the
 * dataset digest among finished runs of the experiment), recursively.
 */
import * as api from "../api.js";
import { Link } from "../router.js";
import { useLoad } from "../util.js";

const CONTEXT = "mlflow.data.context";

interface DataRef {
  path: string;
  md5: string;
  producer?: string;
}

interface StageNode {
  run: api.Run;
  stage?: string;
  commit?: string;
  dirty?: string;
  inputs: DataRef[];
  outputs: DataRef[];
}

function tag(run: api.Run, key: string): string | undefined {
  return run.data.tags?.find((t) => t.key === key)?.value;
}

function refs(run: api.Run, context: string): DataRef[] {
  return (run.inputs?.dataset_inputs ?? []).filter((d) => (d.tags ?? []).some((t) => t.key === CONTEXT && t.value === context)).map((d) => ({ path: d.dataset.name, md5: d.dataset.digest }));
}

async function walk(runId: string): Promise<StageNode[]> {
  const nodes: StageNode[] = [];
  const seen = new Set<string>();
  const queue = [await api.getRun(runId)];
  while (queue.length && nodes.length < 50) {
    const run = queue.shift()!;
    if (seen.has(run.info.run_id)) continue;
    seen.add(run.info.run_id);
    const node: StageNode = { run, stage: tag(run, "mloop.pipeline.stage"), commit: tag(run, "mlflow.source.git.commit"), dirty: tag(run, "mlflow.source.git.dirty"), inputs: refs(run, "input"), outputs: refs(run, "output") };
    for (const input of node.inputs) {
      if (!input.md5) continue;
      const page = await api.searchRuns({ experimentIds: [run.info.experiment_id], filter: `datasets.digest = '${input.md5.replace(/'/g, "\\'")}' AND attributes.status = 'FINISHED'`, orderBy: ["start_time DESC"], maxResults: 200 });
      const producer = (page.runs ?? []).find((r) => (r.info.start_time ?? 0) <= (run.info.start_time ?? Infinity) && r.info.run_id !== run.info.run_id && refs(r, "output").some((o) => o.md5 === input.md5 && o.path === input.path));
      if (producer) {
        input.producer = producer.info.run_id;
        queue.push(producer);
      }
    }
    nodes.push(node);
  }
  return nodes;
}

export function Lineage({ runId }: { runId: string }) {
  const chain = useLoad(() => walk(runId), [runId]);
  const nodes = chain.data ?? [];
  const byId = new Map(nodes.map((n) => [n.run.info.run_id, n]));
  return (
    <section className="card" aria-labelledby="h-lineage" id="lineage">
      <h2 id="h-lineage">Lineage</h2>
      {chain.error && <p className="muted">{chain.error}</p>}
      {!chain.data && !chain.error && <p className="muted">Loading…</p>}
      {nodes.length > 0 && nodes[0]!.commit && (
        <p>
          Commit <span className="mono">{nodes[0]!.commit}</span>
          {nodes[0]!.dirty === "true" ? " (uncommitted changes)" : ""}
        </p>
      )}
      {nodes.length > 0 && (
        <table className="lineage">
          <thead>
            <tr>
              <th>Run</th>
              <th>Stage</th>
              <th>Inputs (md5)</th>
            </tr>
          </thead>
          <tbody>
            {nodes.map((n) => (
              <tr key={n.run.info.run_id}>
                <td>
                  <Link to={`/runs/${encodeURIComponent(n.run.info.run_id)}`} className="mono">
                    {n.run.info.run_id.slice(0, 8)}
                  </Link>
                </td>
                <td>{n.stage ?? n.run.info.run_name ?? "—"}</td>
                <td>
                  {n.inputs.length === 0
                    ? "—"
                    : n.inputs.map((i) => (
                        <div key={`${i.path}:${i.md5}`} className="lineage-input">
                          <span className="mono">{i.path}</span> <span className="mono muted">{i.md5.slice(0, 12)}</span>
                          {i.producer ? <> ← stage {byId.get(i.producer)?.stage ?? i.producer.slice(0, 8)}</> : <span className="muted"> (data)</span>}
                        </div>
                      ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
