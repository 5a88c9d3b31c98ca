/** Artifact listings: `artifacts/list` (`service.proto`) and the artifact proxy (`mlflow_artifacts.proto`). */
import type { PageResponse } from "./common.js";

/** One entry of a listing; `file_size` is absent for a folder. */
export interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

/** `artifacts/list` and the logged-model directory listing: paths relative to the run's (or model's) artifact root. */
export interface ListArtifactsResponse extends PageResponse {
  root_uri: string;
  files: FileInfo[];
}

/** The proxy's `GET /api/2.0/mlflow-artifacts/artifacts?path=…`: bare names inside the folder. */
export interface ListProxyArtifactsResponse {
  files: FileInfo[];
}
