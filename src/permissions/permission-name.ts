/**
 * The grammar of a tenant's permission and role names, in one place: the DTOs, the query
 * parser, the README and the OpenAPI description all use these.
 *
 * A name is 1 to 100 characters: a letter, then letters, digits, `_` or `-`, in segments
 * separated by `:` or `.` (`orders:write`, `billing.invoices.read`, `admin`). Names are
 * case-sensitive. `AND` and `OR` are the query operators, so they are not names.
 */
export const NAME_MAX_LENGTH = 100;

export const PERMISSION_NAME_PATTERN = /^(?!(?:AND|OR)$)(?=.{1,100}$)[A-Za-z][A-Za-z0-9_-]*(?:[.:][A-Za-z0-9_-]+)*$/;

export const PERMISSION_NAME_GRAMMAR =
  'a letter, then letters, digits, `_` or `-`, in segments separated by `:` or `.`; ' +
  `1 to ${NAME_MAX_LENGTH} characters, case-sensitive; not \`AND\` or \`OR\` (e.g. \`orders:write\`, \`billing.invoices.read\`)`;

export const isPermissionName = (value: unknown): value is string =>
  typeof value === 'string' && PERMISSION_NAME_PATTERN.test(value);

/** How many of each a key, a role and a tenant may hold: bounded so every list stays small. */
export const LIMITS = {
  permissionsPerKey: 100,
  rolesPerKey: 20,
  permissionsPerRole: 200,
  permissionsPerTenant: 1000,
  rolesPerTenant: 200,
} as const;
