export { buildApp, type AppOptions } from "./app.js";
export { MlflowError, ERROR_STATUS, type ErrorCode } from "./errors.js";
