import type { Migration } from "../migrations.js";
import { tracking } from "./0001-tracking.js";
import { registry } from "./0002-registry.js";
import { trackingRuns } from "./0003-tracking-runs.js";
import { runSearch } from "./0005-run-search.js";
import { loggedModelMetrics } from "./0006-logged-model-metrics.js";
import { traces } from "./0007-traces.js";
import { auth } from "./0008-auth.js";
import { metricIndexes } from "./0009-metric-indexes.js";
import { webhookLeases } from "./0010-webhook-leases.js";
import { deployments } from "./0011-deployments.js";

/** Every migration, in order. A new schema change is a new file and a new line here. */
export const MIGRATIONS: readonly Migration[] = [tracking, registry, trackingRuns, runSearch, loggedModelMetrics, traces, auth, metricIndexes, webhookLeases, deployments];
