export type Role = 'owner' | 'admin' | 'member' | 'viewer';

/**
 * Who is calling, whatever credential they used. `admin` is the service's operator: the holder
 * of ADMIN_TOKEN, or (with `operatorId`, the person) an operator signed in to the console. An
 * operator is a member of no tenant; acting on one, the console sets `tenantId` for that call.
 */
export interface Principal {
  kind: 'user' | 'apiKey' | 'admin';
  /** The operator person of an operator session. */
  operatorId?: string;
  tenantId?: string;
  /** For a user: their membership in `tenantId`; `personId` is who they are in every tenant. */
  userId?: string;
  personId?: string;
  role?: Role;
  apiKeyId?: string;
  sessionId?: string;
  /** The tenant requires a second factor this person has not added: only enrolment is open. */
  mfaEnrolmentRequired?: boolean;
  scopes: string[];
  /** An API key's effective tenant permissions (its own and its roles'); people have none. */
  permissions?: ReadonlySet<string>;
}

export const ADMIN_PRINCIPAL: Principal = Object.freeze({ kind: 'admin', scopes: [] }) as Principal;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the access guard; null until then. */
    principal: Principal | null;
  }
}
