/**
 * Model serving, the door to `src/serving/`: MLflow's scoring protocol over
 * ONNX models in-process and pyfunc models in Python workers, alias
 * following, canary and shadow traffic, the prediction log and feedback.
 */
export { ServingService, type ServeOptions, type ScoringRequest, type ScoringResponse } from "./service.js";
export { parseModelUri, type ModelRef } from "./resolve.js";
export { parseScoringRequest, type ScoringInput, type Frame } from "./input.js";
export { readModelMeta, type ModelMeta, type Schema } from "./mlmodel.js";
export { makePolicy, readPolicyFile, routesToChallenger, stickyPoint, type TrafficPolicy, type PolicyFile } from "./traffic.js";
export { LocalPredictionSink, FeedbackStore, readPredictionLog, predictionLine, type PredictionSink, type PredictionRecord, type FeedbackRecord } from "./sink.js";
export { SegmentLog, readSegmentLog, type SegmentLogStats } from "./segment-log.js";
export { S3PredictionLog, S3LogMirror, segmentToParquet, parquetToLines, type S3LogOptions, type UploadStats } from "./s3-log.js";
export { fastRows, type PyfuncStats } from "./pyfunc.js";
