import { MigrationInterface, QueryRunner } from 'typeorm';

export class Identity1795321000000 implements MigrationInterface {
  name = 'Identity1795321000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "auth_throttle" ("key" text NOT NULL, "count" integer NOT NULL, "window_started_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "auth_throttle_pkey" PRIMARY KEY ("key"))',
    );
    await queryRunner.query(
      'CREATE TABLE "users" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "tenant_id" uuid NOT NULL, "email" text NOT NULL, "role" text NOT NULL, "status" text NOT NULL DEFAULT \'active\', "password_hash" text, "password_changed_at" TIMESTAMP WITH TIME ZONE, "last_login_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "users_email_key" UNIQUE ("email"), CONSTRAINT "users_status_check" CHECK (status IN (\'invited\', \'active\', \'disabled\')), CONSTRAINT "users_role_check" CHECK (role IN (\'owner\', \'admin\', \'member\', \'viewer\')), CONSTRAINT "users_pkey" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "users_tenant_id_idx" ON "users"  ("tenant_id") ');
    await queryRunner.query(
      'CREATE TABLE "one_time_tokens" ("token_hash" text NOT NULL, "purpose" text NOT NULL, "tenant_id" uuid NOT NULL, "user_id" uuid NOT NULL, "created_by" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "used_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "one_time_tokens_purpose_check" CHECK (purpose IN (\'password_reset\', \'invitation\')), CONSTRAINT "one_time_tokens_pkey" PRIMARY KEY ("token_hash"))',
    );
    await queryRunner.query('CREATE INDEX "one_time_tokens_tenant_id_idx" ON "one_time_tokens"  ("tenant_id") ');
    await queryRunner.query('CREATE INDEX "one_time_tokens_user_id_idx" ON "one_time_tokens"  ("user_id") ');
    await queryRunner.query(
      'CREATE TABLE "sessions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "tenant_id" uuid NOT NULL, "user_id" uuid NOT NULL, "kind" text NOT NULL, "token_hash" text, "ip" text, "user_agent" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_seen_at" TIMESTAMP WITH TIME ZONE NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "idle_timeout_seconds" integer, "revoked_at" TIMESTAMP WITH TIME ZONE, "revoked_reason" text, CONSTRAINT "sessions_kind_check" CHECK (kind IN (\'api\', \'dashboard\')), CONSTRAINT "sessions_pkey" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "sessions_tenant_id_idx" ON "sessions"  ("tenant_id") ');
    await queryRunner.query('CREATE INDEX "sessions_user_id_idx" ON "sessions"  ("user_id") ');
    await queryRunner.query('CREATE UNIQUE INDEX "sessions_token_hash_key" ON "sessions"  ("token_hash") ');
    await queryRunner.query(
      'CREATE TABLE "refresh_tokens" ("token_hash" text NOT NULL, "session_id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "used_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "refresh_tokens_pkey" PRIMARY KEY ("token_hash"))',
    );
    await queryRunner.query('CREATE INDEX "refresh_tokens_session_id_idx" ON "refresh_tokens"  ("session_id") ');
    await queryRunner.query('CREATE INDEX "refresh_tokens_tenant_id_idx" ON "refresh_tokens"  ("tenant_id") ');
    await queryRunner.query(
      'ALTER TABLE "users" ADD CONSTRAINT "users_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "one_time_tokens" ADD CONSTRAINT "one_time_tokens_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "one_time_tokens" ADD CONSTRAINT "one_time_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "sessions" ADD CONSTRAINT "sessions_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "refresh_tokens" ADD CONSTRAINT "refresh_tokens_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "refresh_tokens" ADD CONSTRAINT "refresh_tokens_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "refresh_tokens" DROP CONSTRAINT "refresh_tokens_session_id_fkey"');
    await queryRunner.query('ALTER TABLE "refresh_tokens" DROP CONSTRAINT "refresh_tokens_tenant_id_fkey"');
    await queryRunner.query('ALTER TABLE "sessions" DROP CONSTRAINT "sessions_user_id_fkey"');
    await queryRunner.query('ALTER TABLE "sessions" DROP CONSTRAINT "sessions_tenant_id_fkey"');
    await queryRunner.query('ALTER TABLE "one_time_tokens" DROP CONSTRAINT "one_time_tokens_user_id_fkey"');
    await queryRunner.query('ALTER TABLE "one_time_tokens" DROP CONSTRAINT "one_time_tokens_tenant_id_fkey"');
    await queryRunner.query('ALTER TABLE "users" DROP CONSTRAINT "users_tenant_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."refresh_tokens_tenant_id_idx"');
    await queryRunner.query('DROP INDEX "public"."refresh_tokens_session_id_idx"');
    await queryRunner.query('DROP TABLE "refresh_tokens"');
    await queryRunner.query('DROP INDEX "public"."sessions_token_hash_key"');
    await queryRunner.query('DROP INDEX "public"."sessions_user_id_idx"');
    await queryRunner.query('DROP INDEX "public"."sessions_tenant_id_idx"');
    await queryRunner.query('DROP TABLE "sessions"');
    await queryRunner.query('DROP INDEX "public"."one_time_tokens_user_id_idx"');
    await queryRunner.query('DROP INDEX "public"."one_time_tokens_tenant_id_idx"');
    await queryRunner.query('DROP TABLE "one_time_tokens"');
    await queryRunner.query('DROP INDEX "public"."users_tenant_id_idx"');
    await queryRunner.query('DROP TABLE "users"');
    await queryRunner.query('DROP TABLE "auth_throttle"');
  }
}
