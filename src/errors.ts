/**
 * The one error catalogue. Every failure that reaches a client is an
 * {@link MlflowError} carrying one of MLflow's `error_code`s; the HTTP status
 * comes from this table, the same one MLflow's server uses.
 */
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

  toJSON(): { error_code: ErrorCode; message: string } {
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
