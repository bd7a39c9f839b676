import { Role } from './principal';

export const SCOPES = [
  'keys:read',
  'keys:write',
  'config:read',
  'config:write',
  'config:secrets',
  'users:read',
  'audit:read',
  'keys:verify',
  // The tenant's own permissions and roles (which keys carry them is keys:write).
  'permissions:read',
  'permissions:write',
] as const;
export type Scope = (typeof SCOPES)[number];

export const ROLES: Role[] = ['owner', 'admin', 'member', 'viewer'];

/** What each role may do, expressed as the scopes a key would need for the same thing. */
export const ROLE_SCOPES: Record<Role, Scope[]> = {
  owner: [...SCOPES],
  admin: [...SCOPES],
  member: ['keys:read', 'keys:write', 'config:read', 'users:read', 'permissions:read'],
  viewer: ['keys:read', 'config:read', 'users:read', 'permissions:read'],
};
