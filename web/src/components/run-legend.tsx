import type * as api from "../api.js";
import { Link } from "../router.js";
import { SERIES_COLORS, runName } from "../util.js";

/** Each run's series colour (as charts draw it) and a link to the run. */
export function RunLegend({ runs }: { runs: api.Run[] }) {
  return (
    <ul className="legend" aria-label="Runs">
      {runs.map((r, i) => (
        <li key={r.info.run_id}>
          <span className="swatch" style={{ background: SERIES_COLORS[i % SERIES_COLORS.length] }} aria-hidden="true" />
          <Link to={`/experiments/${encodeURIComponent(r.info.experiment_id)}/runs/${encodeURIComponent(r.info.run_id)}`}>{runName(r)}</Link>
        </li>
      ))}
    </ul>
  );
}
