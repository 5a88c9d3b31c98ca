import { invalidParameter } from "../errors.js";

/**
 * MLflow's permission levels, weakest first. What each allows follows MLflow's
 * basic-auth app: READ reads, USE reads (MLflow 3's tier for gateway-style
 * use), EDIT also changes, MANAGE also deletes and grants permissions.
 */
export const PERMISSIONS = ["NO_PERMISSIONS", "READ", "USE", "EDIT", "MANAGE"] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** What a route needs on its resource. */
export type Need = "read" | "update" | "delete" | "manage";

const RANK: Record<Permission, number> = { NO_PERMISSIONS: 0, READ: 1, USE: 2, EDIT: 3, MANAGE: 4 };
const NEEDED: Record<Need, number> = { read: RANK.READ, update: RANK.EDIT, delete: RANK.MANAGE, manage: RANK.MANAGE };

/** True when `permission` allows `need`. */
export function allows(permission: Permission, need: Need): boolean {
  return RANK[permission] >= NEEDED[need];
}

export function isPermission(value: unknown): value is Permission {
  return typeof value === "string" && (PERMISSIONS as readonly string[]).includes(value);
}

/** Reads a permission name from a request; anything else is INVALID_PARAMETER_VALUE with the valid names. */
export function parsePermission(value: unknown): Permission {
  if (isPermission(value)) return value;
  throw invalidParameter(`Invalid permission '${String(value)}'. Valid permissions are: ${PERMISSIONS.join(", ")}`);
}
