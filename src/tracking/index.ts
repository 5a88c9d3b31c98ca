import type { SqlDriver } from "../store/driver.js";
import { ExperimentService } from "./experiments.js";
import { compileExperimentSearch } from "./search.js";
import { TrackingStore } from "./store.js";
import type { TrackingServices } from "./routes.js";

export { registerTrackingRoutes, type TrackingServices } from "./routes.js";
export { joinUri } from "./experiments.js";
export type * from "./types.js";

/** Builds the tracking services on an open database. */
export async function createTrackingServices(db: SqlDriver, defaultArtifactRoot: string): Promise<TrackingServices> {
  const store = new TrackingStore(db);
  const experiments = new ExperimentService(store, defaultArtifactRoot, compileExperimentSearch);
  await experiments.init();
  return { experiments };
}
