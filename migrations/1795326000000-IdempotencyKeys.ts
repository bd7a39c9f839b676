import { MigrationInterface, QueryRunner } from 'typeorm';

export class IdempotencyKeys1795326000000 implements MigrationInterface {
  name = 'IdempotencyKeys1795326000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "idempotency_keys" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "tenant_id" uuid, "scope" text NOT NULL, "key" character varying(255) NOT NULL, "fingerprint" character(64) NOT NULL, "status_code" integer, "response" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "completed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "idempotency_keys_scope_key_idx" ON "idempotency_keys"  ("scope", "key") ',
    );
    await queryRunner.query('CREATE INDEX "idempotency_keys_tenant_id_idx" ON "idempotency_keys"  ("tenant_id") ');
    await queryRunner.query('CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys"  ("created_at") ');
    await queryRunner.query(
      'ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "idempotency_keys" DROP CONSTRAINT "idempotency_keys_tenant_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."idempotency_keys_created_at_idx"');
    await queryRunner.query('DROP INDEX "public"."idempotency_keys_tenant_id_idx"');
    await queryRunner.query('DROP INDEX "public"."idempotency_keys_scope_key_idx"');
    await queryRunner.query('DROP TABLE "idempotency_keys"');
  }
}
