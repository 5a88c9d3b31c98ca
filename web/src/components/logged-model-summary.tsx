import * as api from "../api.js";
import { Link } from "../router.js";
import { useLoad } from "../util.js";

/** One line about an MLflow 3 logged model: id, name, status and the run that logged it. */
export function LoggedModelSummary({ modelId }: { modelId: string }) {
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
