import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from 'typeorm';

/**
 * Someone who signs in: one email, one password (and, later, their second factors). What they
 * may do in a tenant is their membership there (`users`); a person may have several, or none
 * (an operator).
 */
@Entity('people')
@Unique('people_email_key', ['email'])
export class Person {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'people_pkey' })
  id: string;

  /** Stored lower-cased, so uniqueness is case-insensitive; unique across the service. */
  @Column({ type: 'text' })
  email: string;

  /** Null until the person chooses one (an invitation not yet accepted). */
  @Column({ name: 'password_hash', type: 'text', nullable: true })
  passwordHash: string | null;

  @Column({ name: 'password_changed_at', type: 'timestamptz', nullable: true })
  passwordChangedAt: Date | null;

  /** When the person proved they read this address (an invitation or a confirmation link). */
  @Column({ name: 'email_verified_at', type: 'timestamptz', nullable: true })
  emailVerifiedAt: Date | null;

  @Column({ name: 'is_operator', type: 'boolean', default: false })
  isOperator: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
