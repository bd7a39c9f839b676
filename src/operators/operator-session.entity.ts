import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Person } from '../people/person.entity';

/**
 * An operator's sign-in to the console: its own kind, apart from tenant sessions, because an
 * operator acting in the console is a member of no tenant. Same cookie as the dashboard (one
 * sign-in per browser), same idle and absolute limits; only the SHA-256 of the token is kept.
 */
@Entity('operator_sessions')
export class OperatorSession {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'operator_sessions_pkey' })
  id: string;

  @Index('operator_sessions_person_id_idx')
  @Column({ name: 'person_id', type: 'uuid' })
  personId: string;

  @Index('operator_sessions_token_hash_key', { unique: true })
  @Column({ name: 'token_hash', type: 'text' })
  tokenHash: string;

  @Column({ type: 'text', nullable: true })
  ip: string | null;

  @Column({ name: 'user_agent', type: 'text', nullable: true })
  userAgent: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'last_seen_at', type: 'timestamptz' })
  lastSeenAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'idle_timeout_seconds', type: 'integer' })
  idleTimeoutSeconds: number;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'revoked_reason', type: 'text', nullable: true })
  revokedReason: string | null;

  @ManyToOne(() => Person, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'person_id', foreignKeyConstraintName: 'operator_sessions_person_id_fkey' })
  person?: Person;
}
