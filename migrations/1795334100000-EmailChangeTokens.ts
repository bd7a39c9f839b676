import { MigrationInterface, QueryRunner } from 'typeorm';

/** A change of address is confirmed by a one-time link sent to the new address, which the token names. */
export class EmailChangeTokens1795334100000 implements MigrationInterface {
  name = 'EmailChangeTokens1795334100000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "one_time_tokens" ADD "new_email" text');
    await queryRunner.query('ALTER TABLE "one_time_tokens" DROP CONSTRAINT "one_time_tokens_purpose_check"');
    await queryRunner.query(
      "ALTER TABLE \"one_time_tokens\" ADD CONSTRAINT \"one_time_tokens_purpose_check\" CHECK (purpose IN ('password_reset', 'invitation', 'email_change'))",
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DELETE FROM "one_time_tokens" WHERE "purpose" = \'email_change\'');
    await queryRunner.query('ALTER TABLE "one_time_tokens" DROP CONSTRAINT "one_time_tokens_purpose_check"');
    await queryRunner.query(
      'ALTER TABLE "one_time_tokens" ADD CONSTRAINT "one_time_tokens_purpose_check" CHECK (purpose IN (\'password_reset\', \'invitation\'))',
    );
    await queryRunner.query('ALTER TABLE "one_time_tokens" DROP COLUMN "new_email"');
  }
}
