import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Identities of the tenant's own system (keys of one share its limits and quota), and named rate
 * limits on keys. A key's existing `rate_limit` stays where it is: it is the limit named `default`.
 */
export class IdentitiesAndNamedLimits1795332000000 implements MigrationInterface {
  name = 'IdentitiesAndNamedLimits1795332000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "identities" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "tenant_id" uuid NOT NULL, "external_id" text NOT NULL, "meta" jsonb NOT NULL DEFAULT \'{}\', "ratelimits" jsonb NOT NULL DEFAULT \'[]\', "quota_remaining" integer, "quota_refill" jsonb, "quota_refilled_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "identities_tenant_id_external_id_key" UNIQUE ("tenant_id", "external_id"), CONSTRAINT "identities_pkey" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('ALTER TABLE "api_keys" ADD "ratelimits" jsonb NOT NULL DEFAULT \'[]\'');
    await queryRunner.query('ALTER TABLE "api_keys" ADD "identity_id" uuid');
    await queryRunner.query('CREATE INDEX "api_keys_identity_id_idx" ON "api_keys"  ("identity_id") ');
    await queryRunner.query(
      'ALTER TABLE "identities" ADD CONSTRAINT "identities_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_identity_id_fkey" FOREIGN KEY ("identity_id") REFERENCES "identities"("id") ON DELETE SET NULL ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "api_keys" DROP CONSTRAINT "api_keys_identity_id_fkey"');
    await queryRunner.query('ALTER TABLE "identities" DROP CONSTRAINT "identities_tenant_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."api_keys_identity_id_idx"');
    await queryRunner.query('ALTER TABLE "api_keys" DROP COLUMN "identity_id"');
    await queryRunner.query('ALTER TABLE "api_keys" DROP COLUMN "ratelimits"');
    await queryRunner.query('DROP TABLE "identities"');
  }
}
