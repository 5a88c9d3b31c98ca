/**
 * Pieces every MLflow REST message shares: key/value pairs, numbers that may
 * be non-finite, page tokens and the error body.
 */

/** A tag or parameter (`ExperimentTag`, `RunTag`, `Param`, `RegisteredModelTag`, `ModelVersionTag`, `LoggedModelTag`, …). */
export interface KeyValue {
  key: string;
  value: string;
}

/** A double on the wire: non-finite values travel as "NaN", "Infinity", "-Infinity", as protobuf's JSON mapping writes them. */
export type WireNumber = number | "NaN" | "Infinity" | "-Infinity";

/** A paginated response: `next_page_token` is absent on the last page. */
export interface PageResponse {
  next_page_token?: string;
}

/** The body of every error reply: `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}`. */
export interface ErrorResponse {
  error_code: string;
  message: string;
}

/** The reply of a call that returns nothing (`DeleteRun`, `SetTag`, …). */
export type EmptyResponse = Record<string, never>;
