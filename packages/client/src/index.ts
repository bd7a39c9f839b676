export { KeywardClient } from './client';
export type { KeywardClientOptions, VerifyKeyOptions } from './client';
export { KeywardError } from './errors';
export { VERIFY_KEY_OPERATION, errorBodySchema, verifyKeyRequestSchema, verifyKeyResponseSchema } from './contract';
export type {
  DenialCode,
  ErrorBody,
  KeyIdentity,
  RateLimitState,
  RefusedKey,
  ValidKey,
  VerifyKeyRequest,
  VerifyKeyResult,
} from './contract';
export { decide } from './guard-core';
export type { Decision, KeywardRequirement, Refusal, RefusalBody } from './guard-core';
