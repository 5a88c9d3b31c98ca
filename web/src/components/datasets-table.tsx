import type * as api from "../api.js";
import { tagMap } from "../util.js";

/** The datasets a run used: name, digest, source and the context it was used in (`mlflow.data.context`). */
export function DatasetsTable({ datasets }: { datasets: api.DatasetInput[] }) {
  return (
    <table className="grid">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Digest</th>
          <th scope="col">Source</th>
          <th scope="col">Context</th>
        </tr>
      </thead>
      <tbody>
        {datasets.map((d, i) => (
          <tr key={i}>
            <td>{d.dataset.name}</td>
            <td className="mono">{d.dataset.digest}</td>
            <td className="mono wrap">
              {d.dataset.source_type ? `${d.dataset.source_type}: ` : ""}
              {d.dataset.source}
            </td>
            <td>{tagMap(d.tags).get("mlflow.data.context") ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
