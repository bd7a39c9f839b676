import { MigrationInterface, QueryRunner } from 'typeorm';

export class ApiKeysAndConfig1795322000000 implements MigrationInterface {
  name = 'ApiKeysAndConfig1795322000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "api_keys" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "tenant_id" uuid NOT NULL, "user_id" uuid, "created_by_user_id" uuid, "created_by_key_id" uuid, "name" text NOT NULL, "key_hash" text NOT NULL, "hint" text NOT NULL, "scopes" text array NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, "disabled_at" TIMESTAMP WITH TIME ZONE, "rotated_from_id" uuid, "grace_until" TIMESTAMP WITH TIME ZONE, "rate_limit" jsonb, "ip_allowlist" text array, "metadata" jsonb NOT NULL DEFAULT \'{}\', "last_used_at" TIMESTAMP WITH TIME ZONE, "usage_count" bigint NOT NULL DEFAULT \'0\', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "api_keys_tenant_id_idx" ON "api_keys"  ("tenant_id") ');
    await queryRunner.query('CREATE INDEX "api_keys_user_id_idx" ON "api_keys"  ("user_id") ');
    await queryRunner.query('CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"  ("key_hash") ');
    await queryRunner.query(
      'CREATE TABLE "config_entries" ("tenant_id" uuid NOT NULL, "key" text NOT NULL, "value" jsonb, "encrypted" text, "secret" boolean NOT NULL DEFAULT false, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_by" text, CONSTRAINT "config_entries_pkey" PRIMARY KEY ("tenant_id", "key"))',
    );
    await queryRunner.query('ALTER TABLE "tenants" ADD "max_key_lifetime_days" integer');
    await queryRunner.query(
      'ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "config_entries" ADD CONSTRAINT "config_entries_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "config_entries" DROP CONSTRAINT "config_entries_tenant_id_fkey"');
    await queryRunner.query('ALTER TABLE "api_keys" DROP CONSTRAINT "api_keys_user_id_fkey"');
    await queryRunner.query('ALTER TABLE "api_keys" DROP CONSTRAINT "api_keys_tenant_id_fkey"');
    await queryRunner.query('ALTER TABLE "tenants" DROP COLUMN "max_key_lifetime_days"');
    await queryRunner.query('DROP TABLE "config_entries"');
    await queryRunner.query('DROP INDEX "public"."api_keys_key_hash_key"');
    await queryRunner.query('DROP INDEX "public"."api_keys_user_id_idx"');
    await queryRunner.query('DROP INDEX "public"."api_keys_tenant_id_idx"');
    await queryRunner.query('DROP TABLE "api_keys"');
  }
}
