/**
 * The one error catalogue. Every failure that reaches a client is an
 * {@link MlflowError} carrying one of MLflow's `error_code`s; the HTTP status
 * comes from this table, the same one MLflow's server uses.
 */
import type { ErrorResponse } from "./wire/index.js";

export const ERROR_STATUS = {
  INVALID_PARAMETER_VALUE: 400,
  BAD_REQUEST: 400,
  MALFORMED_REQUEST: 400,
  INVALID_STATE: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  RESOURCE_LIMIT_EXCEEDED: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  RESOURCE_CONFLICT: 409,
  REQUEST_LIMIT_EXCEEDED: 429,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class MlflowError extends Error {
  readonly errorCode: ErrorCode;

  constructor(errorCode: ErrorCode, message: string) {
    super(message);
    this.name = "MlflowError";
    this.errorCode = errorCode;
  }

  get status(): number {
    return ERROR_STATUS[this.errorCode];
  }

  toJSON(): ErrorResponse & { error_code: ErrorCode } {
    return { error_code: this.errorCode, message: this.message };
  }
}

export const invalidParameter = (message: string): MlflowError =>
  new MlflowError("INVALID_PARAMETER_VALUE", message);

export const notFound = (message: string): MlflowError =>
  new MlflowError("RESOURCE_DOES_NOT_EXIST", message);

export const alreadyExists = (message: string): MlflowError =>
  new MlflowError("RESOURCE_ALREADY_EXISTS", message);

export const invalidState = (message: string): MlflowError =>
  new MlflowError("INVALID_STATE", message);

/** Raised by stores when the database is unreachable: clients may retry. */
export const temporarilyUnavailable = (message: string): MlflowError =>
  new MlflowError("TEMPORARILY_UNAVAILABLE", message);

// ---- MLflow's request-validation messages (`_validate_param_against_schema`), in one place ----

const API_DOCS_HINT = "See the API docs for more information about request parameters.";

/** A value the way Python's `json.dumps(value, sort_keys=True, separators=(",", ":"))` shows it. */
function pyJson(value: unknown): string {
  if (value === undefined) return "null";
  const text = JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
  // MLflow echoes the whole value; a long one is cut so a large bad body is not sent back.
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}

/** The Python type name MLflow's hint shows for a JSON value. */
function pyType(value: unknown): string {
  if (value === null || value === undefined) return "NoneType";
  if (typeof value === "string") return "str";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  return Array.isArray(value) ? "list" : "dict";
}

/** `Missing value for required parameter 'name'. See the API docs …` */
export const missingParameter = (name: string): MlflowError =>
  invalidParameter(`Missing value for required parameter '${name}'. ${API_DOCS_HINT}`);

/** `Invalid value 123 for parameter 'name' supplied:  Hint: Value was of type 'int'. See the API docs …` */
export const wrongTypeParameter = (name: string, value: unknown, writtenAsFloat = false): MlflowError => {
  // A JSON number written with a fraction or exponent (`9.0`) is a Python float to MLflow, which echoes it as one.
  const float = writtenAsFloat && typeof value === "number" && Number.isFinite(value);
  const shown = float ? pyFloatRepr(value as number) : pyJson(value);
  return invalidParameter(`Invalid value ${shown} for parameter '${name}' supplied:  Hint: Value was of type '${float ? "float" : pyType(value)}'. ${API_DOCS_HINT}`);
};

/** Python's `repr` of a finite float: `9.0`, `0.5`, `1e+16`, `1e-05`. */
function pyFloatRepr(v: number): string {
  const [mantissa, expRaw] = v.toExponential().split("e") as [string, string];
  const exp = Number(expRaw);
  if (exp < -4 || exp >= 16) return `${mantissa}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  const s = String(v);
  return s.includes(".") ? s : `${s}.0`;
}
