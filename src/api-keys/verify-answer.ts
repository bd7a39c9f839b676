import type { SpendRequest } from './api-key-verifier.service';
import { DEFAULT_SPEND } from './api-key-verifier.service';
import type { VerifyKeyDto } from './dto/api-keys.dto';

/** What a verify call asks to spend: the limits it names (default: `default` by 1) and the quota's cost. */
export function spendRequestOf(dto: Pick<VerifyKeyDto, 'ratelimits' | 'cost'>): SpendRequest {
  if (dto.ratelimits === undefined && dto.cost === undefined) return DEFAULT_SPEND;
  return {
    ratelimits: dto.ratelimits
      ? dto.ratelimits.map(({ name, cost }) => ({ name, cost: cost ?? 1 }))
      : DEFAULT_SPEND.ratelimits,
    cost: dto.cost ?? 1,
  };
}
