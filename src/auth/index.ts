/**
 * Users, bearer tokens and per-resource permissions (MLflow's basic-auth
 * model), and the decisions made on them. The HTTP side — which route needs
 * what — is `src/api/auth.ts`.
 */
export { AuthService, LoginThrottled, permissionDenied, unauthenticated, type AuthSettings, type Principal, type TokenJson, type UserJson } from "./service.js";
export { AuthStore, type ResourceKind, type UserRow } from "./store.js";
export { PERMISSIONS, allows, isPermission, parsePermission, type Need, type Permission } from "./permissions.js";
export { FailedLogins, type RateLimits } from "./rate-limit.js";
export { hashPassword, verifyPassword } from "./passwords.js";
