import { MigrationInterface, QueryRunner } from 'typeorm';

export class KeyLimitsAndUsage1795325000000 implements MigrationInterface {
  name = 'KeyLimitsAndUsage1795325000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "key_usage" ("api_key_id" uuid NOT NULL, "hour" TIMESTAMP WITH TIME ZONE NOT NULL, "tenant_id" uuid NOT NULL, "success" bigint NOT NULL DEFAULT \'0\', "denied" jsonb NOT NULL DEFAULT \'{}\', CONSTRAINT "key_usage_pkey" PRIMARY KEY ("api_key_id", "hour"))',
    );
    await queryRunner.query('CREATE INDEX "key_usage_tenant_id_hour_idx" ON "key_usage"  ("tenant_id", "hour") ');
    await queryRunner.query(
      'ALTER TABLE "tenants" ADD "default_key_rate_limit" jsonb NOT NULL DEFAULT \'{"limit": 100, "windowSeconds": 1}\'',
    );
    await queryRunner.query('ALTER TABLE "api_keys" ADD "quota_remaining" integer');
    await queryRunner.query('ALTER TABLE "api_keys" ADD "quota_refill" jsonb');
    await queryRunner.query('ALTER TABLE "api_keys" ADD "quota_refilled_at" TIMESTAMP WITH TIME ZONE');
    await queryRunner.query(
      'ALTER TABLE "key_usage" ADD CONSTRAINT "key_usage_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "key_usage" ADD CONSTRAINT "key_usage_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "key_usage" DROP CONSTRAINT "key_usage_api_key_id_fkey"');
    await queryRunner.query('ALTER TABLE "key_usage" DROP CONSTRAINT "key_usage_tenant_id_fkey"');
    await queryRunner.query('ALTER TABLE "api_keys" DROP COLUMN "quota_refilled_at"');
    await queryRunner.query('ALTER TABLE "api_keys" DROP COLUMN "quota_refill"');
    await queryRunner.query('ALTER TABLE "api_keys" DROP COLUMN "quota_remaining"');
    await queryRunner.query('ALTER TABLE "tenants" DROP COLUMN "default_key_rate_limit"');
    await queryRunner.query('DROP INDEX "public"."key_usage_tenant_id_hour_idx"');
    await queryRunner.query('DROP TABLE "key_usage"');
  }
}
