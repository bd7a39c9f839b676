import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * People and their memberships. A person (one email, one password) may belong to several
 * tenants; `users` becomes the membership of a person in one tenant. Every current user keeps
 * their id (sessions, keys and audit events point at it) and gets a person: users with the same
 * address in several tenants (invitations: an address with a password was unique) join one
 * person, who takes the password of the one that had it. The email lives only on the person,
 * so a change of address is one row and can never leave a stale copy behind.
 */
export class People1795334000000 implements MigrationInterface {
  name = 'People1795334000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "people" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "email" text NOT NULL, "password_hash" text, "password_changed_at" TIMESTAMP WITH TIME ZONE, "email_verified_at" TIMESTAMP WITH TIME ZONE, "is_operator" boolean NOT NULL DEFAULT false, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "people_email_key" UNIQUE ("email"), CONSTRAINT "people_pkey" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      `INSERT INTO "people" ("email", "password_hash", "password_changed_at", "created_at")
       SELECT "email",
              (array_agg("password_hash") FILTER (WHERE "password_hash" IS NOT NULL))[1],
              (array_agg("password_changed_at") FILTER (WHERE "password_hash" IS NOT NULL))[1],
              min("created_at")
         FROM "users" GROUP BY "email"`,
    );
    await queryRunner.query('ALTER TABLE "users" ADD "person_id" uuid');
    await queryRunner.query('UPDATE "users" u SET "person_id" = p."id" FROM "people" p WHERE p."email" = u."email"');
    await queryRunner.query('ALTER TABLE "users" ALTER COLUMN "person_id" SET NOT NULL');
    await queryRunner.query('DROP INDEX "public"."users_email_key"');
    await queryRunner.query('DROP INDEX "public"."users_tenant_id_email_key"');
    await queryRunner.query('ALTER TABLE "users" DROP COLUMN "email"');
    await queryRunner.query('ALTER TABLE "users" DROP COLUMN "password_hash"');
    await queryRunner.query('ALTER TABLE "users" DROP COLUMN "password_changed_at"');
    await queryRunner.query(
      'CREATE UNIQUE INDEX "users_person_id_tenant_id_key" ON "users"  ("person_id", "tenant_id") ',
    );
    await queryRunner.query(
      'ALTER TABLE "users" ADD CONSTRAINT "users_person_id_fkey" FOREIGN KEY ("person_id") REFERENCES "people"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "users" DROP CONSTRAINT "users_person_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."users_person_id_tenant_id_key"');
    await queryRunner.query('ALTER TABLE "users" ADD "email" text');
    await queryRunner.query('ALTER TABLE "users" ADD "password_hash" text');
    await queryRunner.query('ALTER TABLE "users" ADD "password_changed_at" TIMESTAMP WITH TIME ZONE');
    // The password goes back to one membership only: before, an address with a password was unique.
    await queryRunner.query(
      `UPDATE "users" u SET "email" = p."email",
              "password_hash" = CASE WHEN u."id" = first."id" THEN p."password_hash" END,
              "password_changed_at" = CASE WHEN u."id" = first."id" THEN p."password_changed_at" END
         FROM "people" p,
              LATERAL (SELECT f."id" FROM "users" f WHERE f."person_id" = p."id"
                        ORDER BY (f."status" = 'active') DESC, f."created_at", f."id" LIMIT 1) first
        WHERE p."id" = u."person_id"`,
    );
    await queryRunner.query('ALTER TABLE "users" ALTER COLUMN "email" SET NOT NULL');
    await queryRunner.query('ALTER TABLE "users" DROP COLUMN "person_id"');
    await queryRunner.query('CREATE UNIQUE INDEX "users_tenant_id_email_key" ON "users"  ("tenant_id", "email") ');
    await queryRunner.query(
      'CREATE UNIQUE INDEX "users_email_key" ON "users"  ("email") WHERE password_hash IS NOT NULL',
    );
    await queryRunner.query('DROP TABLE "people"');
  }
}
