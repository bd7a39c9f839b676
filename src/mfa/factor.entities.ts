import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  ValueTransformer,
} from 'typeorm';
import { Person } from '../people/person.entity';

/** bigint columns come back from pg as strings; steps and counters stay far below 2^53. */
const bigintNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/**
 * A person's authenticator app. A row with no `confirmedAt` is an enrolment in progress: it
 * counts as a factor only once a code from the app has been typed back.
 */
@Entity('totp_factors')
export class TotpFactor {
  @PrimaryColumn({ name: 'person_id', type: 'uuid', primaryKeyConstraintName: 'totp_factors_pkey' })
  personId: string;

  /** The base32 secret, sealed with CONFIG_ENCRYPTION_KEY (AES-256-GCM, bound to the person). */
  @Column({ name: 'secret_sealed', type: 'text' })
  secretSealed: string;

  @Column({ name: 'confirmed_at', type: 'timestamptz', nullable: true })
  confirmedAt: Date | null;

  /** The last time step a code was accepted for: that step and older ones never work again. */
  @Column({ name: 'last_used_step', type: 'bigint', nullable: true, transformer: bigintNumber })
  lastUsedStep: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @ManyToOne(() => Person, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'person_id', foreignKeyConstraintName: 'totp_factors_person_id_fkey' })
  person?: Person;
}

/** One of a person's ten recovery codes: only its keyed hash is kept. */
@Entity('recovery_codes')
@Index('recovery_codes_person_id_code_hash_key', ['personId', 'codeHash'], { unique: true })
export class RecoveryCode {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'recovery_codes_pkey' })
  id: string;

  @Index('recovery_codes_person_id_idx')
  @Column({ name: 'person_id', type: 'uuid' })
  personId: string;

  @Column({ name: 'code_hash', type: 'text' })
  codeHash: string;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @ManyToOne(() => Person, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'person_id', foreignKeyConstraintName: 'recovery_codes_person_id_fkey' })
  person?: Person;
}

/** A WebAuthn credential (passkey or security key) registered by a person. */
@Entity('passkeys')
@Check('passkeys_device_type_check', "device_type IN ('singleDevice', 'multiDevice')")
export class Passkey {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'passkeys_pkey' })
  id: string;

  @Index('passkeys_person_id_idx')
  @Column({ name: 'person_id', type: 'uuid' })
  personId: string;

  /** The credential ID, base64url, as the browser sends it back. */
  @Index('passkeys_credential_id_key', { unique: true })
  @Column({ name: 'credential_id', type: 'text' })
  credentialId: string;

  /** COSE public key. */
  @Column({ name: 'public_key', type: 'bytea' })
  publicKey: Buffer;

  /** The authenticator's signature counter; a value that does not grow means a cloned key. */
  @Column({ name: 'sign_count', type: 'bigint', default: 0, transformer: bigintNumber })
  signCount: number;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  transports: string[];

  @Column({ type: 'text' })
  name: string;

  @Column({ name: 'device_type', type: 'text' })
  deviceType: 'singleDevice' | 'multiDevice';

  @Column({ name: 'backed_up', type: 'boolean', default: false })
  backedUp: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  @ManyToOne(() => Person, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'person_id', foreignKeyConstraintName: 'passkeys_person_id_fkey' })
  person?: Person;
}
