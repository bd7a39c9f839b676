import { MigrationInterface, QueryRunner } from 'typeorm';

/** The address a key was last used from, shown on its page beside the last-used time. */
export class KeyLastUsedIp1795331700000 implements MigrationInterface {
  name = 'KeyLastUsedIp1795331700000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "last_used_ip" text`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "last_used_ip"`);
  }
}
