import type { SqlDriver } from "../store/index.js";
import { ExperimentService } from "./experiments.js";
import { RunStore } from "./run-store.js";
import { RunService } from "./runs.js";
import { experimentCompiler } from "./search.js";
import { TrackingStore } from "./store.js";

/** The tracking domain's services, as the HTTP layer and other domains use them. */
export interface TrackingServices {
  experiments: ExperimentService;
  runs: RunService;
}

export { joinUri, ExperimentService } from "./experiments.js";
export { RunService, RUN_NAME_TAG, parseRunStatus, type RunLocation } from "./runs.js";
export { parseViewType } from "./experiments.js";
export { validateBatchSize } from "./validation.js";
export { RunStore, INPUT_LINKS, toWire } from "./run-store.js";
export { TrackingStore } from "./store.js";
export type * from "./types.js";

/** Builds the tracking services on an open database. */
export async function createTrackingServices(db: SqlDriver, defaultArtifactRoot: string): Promise<TrackingServices> {
  const store = new TrackingStore(db);
  const experiments = new ExperimentService(store, defaultArtifactRoot, experimentCompiler(db.dialect));
  await experiments.init();
  const runs = new RunService(new RunStore(db), store);
  return { experiments, runs };
}
