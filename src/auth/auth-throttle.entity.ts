import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Failure counters for sign-in, recovery and reset, kept in the database so a restart keeps them. */
@Entity('auth_throttle')
export class AuthThrottle {
  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'auth_throttle_pkey' })
  key: string;

  @Column({ type: 'integer' })
  count: number;

  @Column({ name: 'window_started_at', type: 'timestamptz' })
  windowStartedAt: Date;
}
