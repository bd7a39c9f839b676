import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An address is claimed service-wide only by an account with a password: invitations no
 * longer reserve it (nor reveal to another tenant that it is in use), one tenant holds it once.
 */
export class EmailClaimedByPassword1795329100000 implements MigrationInterface {
  name = 'EmailClaimedByPassword1795329100000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "users" DROP CONSTRAINT "users_email_key"');
    await queryRunner.query(
      'CREATE UNIQUE INDEX "users_email_key" ON "users"  ("email") WHERE password_hash IS NOT NULL',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "users_tenant_id_email_key" ON "users"  ("tenant_id", "email") ');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."users_tenant_id_email_key"');
    await queryRunner.query('DROP INDEX "public"."users_email_key"');
    await queryRunner.query('ALTER TABLE "users" ADD CONSTRAINT "users_email_key" UNIQUE ("email")');
  }
}
