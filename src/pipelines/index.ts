/**
 * Pipelines: `dvc.yaml` stages, the DAG, `mloop repro` with DVC's `dvc.lock`
 * and run cache, `mloop status`, and each stage recorded as a tracking run.
 * Other folders use only what is exported here. See docs/pipelines.md.
 */
export { loadPipeline, DEFAULT_PARAMS_FILE, type Pipeline, type Stage, type OutSpec, type ParamSpec, type DepSpec, type OutKind } from "./spec.js";
export { buildGraph, selectStages, resolveTarget, formatDag, type Graph, type Selection } from "./dag.js";
export { readLock, writeLock, runCacheKey, runCacheValue, pythonJson, pythonFloat, type LockEntry, type LockFile, type LockOut } from "./lock.js";
export { readParamsFile, parseParamsText, getKey, flatten, sameValue } from "./params.js";
export {
  reproduce,
  pipelineStatus,
  formatStatus,
  openPipeline,
  type ReproOptions,
  type ReproResult,
  type StageResult,
  type StageAction,
  type StageStatus,
  type StaleReason,
  type StageRecorder,
} from "./repro.js";
export { RunRecorder, openTracking, stageMetrics, TAGS as PIPELINE_TAGS, CONTEXT_TAG, type Tracking, type RecorderOptions } from "./recording.js";
export { traceLineage, formatLineage, parseLineageUri, type Lineage, type RunNode, type DataRef } from "./lineage.js";
export { openRevision, resolveCommit, WORKSPACE, type Revision } from "./revisions.js";
export { readMetrics, readParams, metricsFiles, diffValues, findMetric, judge, show as showValue, type Values, type DiffRow, type GateOptions, type GateResult } from "./metrics.js";
export { plotDefs, plotRows, plotSpec, renderPlots, type PlotDef, type RenderedPlot } from "./plots.js";
export { buildReport, type Report } from "./report.js";
