import { ApiKey } from '../api-keys/api-key.entity';
import { KeyUsage } from '../api-keys/key-usage.entity';
import { AuditAnchor, AuditEvent } from '../audit/audit-event.entity';
import { Identity } from '../identities/identity.entity';
import { IdempotencyRecord } from '../idempotency/idempotency-record.entity';
import { AuthThrottle } from '../auth/auth-throttle.entity';
import { OneTimeToken } from '../auth/one-time-token.entity';
import { RefreshToken } from '../sessions/refresh-token.entity';
import { Session } from '../sessions/session.entity';
import { ConfigEntry } from '../tenant-config/config-entry.entity';
import { KeyPermission, KeyRole, Permission, Role, RolePermission } from '../permissions/permission.entity';
import { Tenant } from '../tenants/tenant.entity';
import { User } from '../users/user.entity';

/** Every entity TypeORM maps; the schema itself comes only from migrations/. */
export const ENTITIES = [
  Tenant,
  User,
  Session,
  RefreshToken,
  OneTimeToken,
  AuthThrottle,
  Identity,
  ApiKey,
  ConfigEntry,
  KeyUsage,
  AuditEvent,
  AuditAnchor,
  IdempotencyRecord,
  Permission,
  Role,
  RolePermission,
  KeyPermission,
  KeyRole,
];
