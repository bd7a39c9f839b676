import { MigrationInterface, QueryRunner } from 'typeorm';

export class GraceSweepIndex1795323000000 implements MigrationInterface {
  name = 'GraceSweepIndex1795323000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE INDEX "api_keys_grace_until_idx" ON "api_keys"  ("grace_until") WHERE grace_until IS NOT NULL AND revoked_at IS NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."api_keys_grace_until_idx"');
  }
}
