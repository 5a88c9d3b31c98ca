/**
 * What a loaded model version answers with. Two implementations: ONNX
 * in-process ({@link OnnxPredictor}) and the Python worker pool ({@link PyfuncPool}).
 */
import type { ScoringInput } from "./input.js";

export interface PredictRequest {
  /** The parsed, signature-checked input. */
  input: ScoringInput;
  /** The request body as the client sent it (the Python worker parses it again, with MLflow's own code). */
  body: string;
  contentType: string;
  params?: Record<string, unknown>;
}

export interface Prediction {
  /** The value of `predictions`, already JSON. */
  json: string;
}

export interface Predictor {
  readonly kind: "onnx" | "pyfunc";
  predict(req: PredictRequest): Promise<Prediction>;
  close(): Promise<void>;
}
