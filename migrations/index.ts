import { InitTenants1795320000000 } from './1795320000000-InitTenants';
import { Identity1795321000000 } from './1795321000000-Identity';
import { ApiKeysAndConfig1795322000000 } from './1795322000000-ApiKeysAndConfig';
import { GraceSweepIndex1795323000000 } from './1795323000000-GraceSweepIndex';
import { AuditEvents1795324000000 } from './1795324000000-AuditEvents';
import { KeyLimitsAndUsage1795325000000 } from './1795325000000-KeyLimitsAndUsage';
import { IdempotencyKeys1795326000000 } from './1795326000000-IdempotencyKeys';
import { RotationSuccessorIndex1795327000000 } from './1795327000000-RotationSuccessorIndex';
import { EmailClaimedByPassword1795329100000 } from './1795329100000-EmailClaimedByPassword';
import { ReadOnlyDefaultKeyScopes1795330000000 } from './1795330000000-ReadOnlyDefaultKeyScopes';
import { TenantPermissions1795331000000 } from './1795331000000-TenantPermissions';
import { KeyLastUsedIp1795331700000 } from './1795331700000-KeyLastUsedIp';
import { IdentitiesAndNamedLimits1795332000000 } from './1795332000000-IdentitiesAndNamedLimits';
import { People1795334000000 } from './1795334000000-People';
import { EmailChangeTokens1795334100000 } from './1795334100000-EmailChangeTokens';
import { SecondFactors1795335000000 } from './1795335000000-SecondFactors';
import { OperatorConsole1795336000000 } from './1795336000000-OperatorConsole';

/** Every migration, oldest first. Add new ones at the end. */
export const MIGRATIONS: Function[] = [
  InitTenants1795320000000,
  Identity1795321000000,
  ApiKeysAndConfig1795322000000,
  GraceSweepIndex1795323000000,
  AuditEvents1795324000000,
  KeyLimitsAndUsage1795325000000,
  IdempotencyKeys1795326000000,
  RotationSuccessorIndex1795327000000,
  EmailClaimedByPassword1795329100000,
  ReadOnlyDefaultKeyScopes1795330000000,
  TenantPermissions1795331000000,
  KeyLastUsedIp1795331700000,
  IdentitiesAndNamedLimits1795332000000,
  People1795334000000,
  EmailChangeTokens1795334100000,
  SecondFactors1795335000000,
  OperatorConsole1795336000000,
];
