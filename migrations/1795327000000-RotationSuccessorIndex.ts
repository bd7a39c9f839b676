import { MigrationInterface, QueryRunner } from 'typeorm';

export class RotationSuccessorIndex1795327000000 implements MigrationInterface {
  name = 'RotationSuccessorIndex1795327000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE UNIQUE INDEX "api_keys_rotated_from_id_key" ON "api_keys"  ("rotated_from_id") WHERE rotated_from_id IS NOT NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."api_keys_rotated_from_id_key"');
  }
}
