export type Role = 'owner' | 'admin' | 'member' | 'viewer';

/** Who is calling, whatever credential they used. */
export interface Principal {
  kind: 'user' | 'apiKey' | 'admin';
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
