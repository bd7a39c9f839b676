import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Second factors belong to the person (TOTP, recovery codes, passkeys), with the short-lived
 * challenges of the steps that use them; a tenant may require them; a session records when a
 * factor was last checked (step-up) and whether it may only enrol one.
 */
export class SecondFactors1795335000000 implements MigrationInterface {
  name = 'SecondFactors1795335000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "totp_factors" (
        "person_id" uuid NOT NULL,
        "secret_sealed" text NOT NULL,
        "confirmed_at" timestamptz,
        "last_used_step" bigint,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "totp_factors_pkey" PRIMARY KEY ("person_id"),
        CONSTRAINT "totp_factors_person_id_fkey" FOREIGN KEY ("person_id") REFERENCES "people"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`
      CREATE TABLE "recovery_codes" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "person_id" uuid NOT NULL,
        "code_hash" text NOT NULL,
        "used_at" timestamptz,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "recovery_codes_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "recovery_codes_person_id_fkey" FOREIGN KEY ("person_id") REFERENCES "people"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX "recovery_codes_person_id_idx" ON "recovery_codes" ("person_id")`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "recovery_codes_person_id_code_hash_key" ON "recovery_codes" ("person_id", "code_hash")`,
    );
    await queryRunner.query(`
      CREATE TABLE "passkeys" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "person_id" uuid NOT NULL,
        "credential_id" text NOT NULL,
        "public_key" bytea NOT NULL,
        "sign_count" bigint NOT NULL DEFAULT 0,
        "transports" text array NOT NULL DEFAULT '{}',
        "name" text NOT NULL,
        "device_type" text NOT NULL,
        "backed_up" boolean NOT NULL DEFAULT false,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "last_used_at" timestamptz,
        CONSTRAINT "passkeys_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "passkeys_device_type_check" CHECK (device_type IN ('singleDevice', 'multiDevice')),
        CONSTRAINT "passkeys_person_id_fkey" FOREIGN KEY ("person_id") REFERENCES "people"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX "passkeys_person_id_idx" ON "passkeys" ("person_id")`);
    await queryRunner.query(`CREATE UNIQUE INDEX "passkeys_credential_id_key" ON "passkeys" ("credential_id")`);
    await queryRunner.query(`
      CREATE TABLE "mfa_challenges" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "token_hash" text NOT NULL,
        "purpose" text NOT NULL,
        "person_id" uuid,
        "webauthn_challenge" text,
        "context" jsonb NOT NULL DEFAULT '{}',
        "attempts" integer NOT NULL DEFAULT 0,
        "expires_at" timestamptz NOT NULL,
        "used_at" timestamptz,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "mfa_challenges_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "mfa_challenges_purpose_check"
          CHECK (purpose IN ('sign_in', 'passkey_sign_in', 'passkey_registration', 'step_up')),
        CONSTRAINT "mfa_challenges_person_id_fkey" FOREIGN KEY ("person_id") REFERENCES "people"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX "mfa_challenges_token_hash_key" ON "mfa_challenges" ("token_hash")`);
    await queryRunner.query(`CREATE INDEX "mfa_challenges_person_id_idx" ON "mfa_challenges" ("person_id")`);
    await queryRunner.query(`CREATE INDEX "mfa_challenges_expires_at_idx" ON "mfa_challenges" ("expires_at")`);
    await queryRunner.query(
      `ALTER TABLE "tenants" ADD "mfa_policy" text NOT NULL DEFAULT 'optional',
         ADD CONSTRAINT "tenants_mfa_policy_check" CHECK (mfa_policy IN ('optional', 'admins', 'everyone'))`,
    );
    await queryRunner.query(
      `ALTER TABLE "sessions" ADD "factor_verified_at" timestamptz,
         ADD "mfa_enrolment_required" boolean NOT NULL DEFAULT false`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "sessions" DROP COLUMN "mfa_enrolment_required", DROP COLUMN "factor_verified_at"`,
    );
    await queryRunner.query(
      `ALTER TABLE "tenants" DROP CONSTRAINT "tenants_mfa_policy_check", DROP COLUMN "mfa_policy"`,
    );
    await queryRunner.query(`DROP TABLE "mfa_challenges"`);
    await queryRunner.query(`DROP TABLE "passkeys"`);
    await queryRunner.query(`DROP TABLE "recovery_codes"`);
    await queryRunner.query(`DROP TABLE "totp_factors"`);
  }
}
