import { ApiKey } from '../api-keys/api-key.entity';
import { KeyUsage } from '../api-keys/key-usage.entity';
import { AuditAnchor, AuditEvent } from '../audit/audit-event.entity';
import { Identity } from '../identities/identity.entity';
import { MfaChallenge } from '../mfa/mfa-challenge.entity';
import { Passkey, RecoveryCode, TotpFactor } from '../mfa/factor.entities';
import { IdempotencyRecord } from '../idempotency/idempotency-record.entity';
import { OperatorEvent } from '../operators/operator-event.entity';
import { OperatorSession } from '../operators/operator-session.entity';
import { AuthThrottle } from '../auth/auth-throttle.entity';
import { OneTimeToken } from '../auth/one-time-token.entity';
import { RefreshToken } from '../sessions/refresh-token.entity';
import { Session } from '../sessions/session.entity';
import { ConfigEntry } from '../tenant-config/config-entry.entity';
import { KeyPermission, KeyRole, Permission, Role, RolePermission } from '../permissions/permission.entity';
import { Tenant } from '../tenants/tenant.entity';
import { User } from '../users/user.entity';
import { Person } from '../people/person.entity';

/** Every entity TypeORM maps; the schema itself comes only from migrations/. */
export const ENTITIES = [
  Tenant,
  Person,
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
  TotpFactor,
  RecoveryCode,
  Passkey,
  MfaChallenge,
  OperatorSession,
  OperatorEvent,
];
