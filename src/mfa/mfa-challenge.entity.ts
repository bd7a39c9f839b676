import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Person } from '../people/person.entity';

/**
 * What a challenge is for: the second step of a sign-in, a passwordless passkey sign-in (the
 * person is known only once the passkey answers), registering a passkey, or a step-up.
 */
export type ChallengePurpose = 'sign_in' | 'passkey_sign_in' | 'passkey_registration' | 'step_up';

/**
 * A short-lived, single-use challenge. Not a session: it grants nothing by itself; it only
 * lets its holder finish one step. Only the SHA-256 of its token is stored.
 */
@Entity('mfa_challenges')
@Check('mfa_challenges_purpose_check', "purpose IN ('sign_in', 'passkey_sign_in', 'passkey_registration', 'step_up')")
export class MfaChallenge {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'mfa_challenges_pkey' })
  id: string;

  @Index('mfa_challenges_token_hash_key', { unique: true })
  @Column({ name: 'token_hash', type: 'text' })
  tokenHash: string;

  @Column({ type: 'text' })
  purpose: ChallengePurpose;

  /** Null only for a passwordless sign-in, until the passkey says who it is. */
  @Index('mfa_challenges_person_id_idx')
  @Column({ name: 'person_id', type: 'uuid', nullable: true })
  personId: string | null;

  /** The WebAuthn challenge (base64url) the browser must sign, when one was issued. */
  @Column({ name: 'webauthn_challenge', type: 'text', nullable: true })
  webauthnChallenge: string | null;

  /** What the step continues with once it succeeds (the tenant asked for, the session to step up). */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  context: Record<string, unknown>;

  /** Wrong answers so far; at MAX_CHALLENGE_ATTEMPTS the challenge ends. */
  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Index('mfa_challenges_expires_at_idx')
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @ManyToOne(() => Person, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'person_id', foreignKeyConstraintName: 'mfa_challenges_person_id_fkey' })
  person?: Person;
}
