import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Permissions and roles a tenant defines for its own API, and which of them each key carries.
 * Every row has its tenant; removing a permission, role, key or tenant removes what points at it.
 */
export class TenantPermissions1795331000000 implements MigrationInterface {
  name = 'TenantPermissions1795331000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "permissions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "tenant_id" uuid NOT NULL, "name" text NOT NULL, "description" text NOT NULL DEFAULT \'\', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "permissions_pkey" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "permissions_tenant_id_name_key" ON "permissions"  ("tenant_id", "name") ',
    );
    await queryRunner.query(
      'CREATE TABLE "roles" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "tenant_id" uuid NOT NULL, "name" text NOT NULL, "description" text NOT NULL DEFAULT \'\', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "roles_pkey" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "roles_tenant_id_name_key" ON "roles"  ("tenant_id", "name") ');
    await queryRunner.query(
      'CREATE TABLE "role_permissions" ("role_id" uuid NOT NULL, "permission_id" uuid NOT NULL, "tenant_id" uuid NOT NULL, CONSTRAINT "role_permissions_pkey" PRIMARY KEY ("role_id", "permission_id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "role_permissions_tenant_id_permission_id_idx" ON "role_permissions"  ("tenant_id", "permission_id") ',
    );
    await queryRunner.query(
      'CREATE TABLE "key_permissions" ("api_key_id" uuid NOT NULL, "permission_id" uuid NOT NULL, "tenant_id" uuid NOT NULL, CONSTRAINT "key_permissions_pkey" PRIMARY KEY ("api_key_id", "permission_id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "key_permissions_tenant_id_permission_id_idx" ON "key_permissions"  ("tenant_id", "permission_id") ',
    );
    await queryRunner.query(
      'CREATE TABLE "key_roles" ("api_key_id" uuid NOT NULL, "role_id" uuid NOT NULL, "tenant_id" uuid NOT NULL, CONSTRAINT "key_roles_pkey" PRIMARY KEY ("api_key_id", "role_id"))',
    );
    await queryRunner.query('CREATE INDEX "key_roles_tenant_id_role_id_idx" ON "key_roles"  ("tenant_id", "role_id") ');
    await queryRunner.query(
      'ALTER TABLE "permissions" ADD CONSTRAINT "permissions_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "roles" ADD CONSTRAINT "roles_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "role_permissions" ADD CONSTRAINT "role_permissions_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "role_permissions" ADD CONSTRAINT "role_permissions_role_id_fkey" FOREIGN KEY ("role_id") REFERENCES "roles"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "role_permissions" ADD CONSTRAINT "role_permissions_permission_id_fkey" FOREIGN KEY ("permission_id") REFERENCES "permissions"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "key_permissions" ADD CONSTRAINT "key_permissions_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "key_permissions" ADD CONSTRAINT "key_permissions_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "key_permissions" ADD CONSTRAINT "key_permissions_permission_id_fkey" FOREIGN KEY ("permission_id") REFERENCES "permissions"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "key_roles" ADD CONSTRAINT "key_roles_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "key_roles" ADD CONSTRAINT "key_roles_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "key_roles" ADD CONSTRAINT "key_roles_role_id_fkey" FOREIGN KEY ("role_id") REFERENCES "roles"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "key_roles" DROP CONSTRAINT "key_roles_role_id_fkey"');
    await queryRunner.query('ALTER TABLE "key_roles" DROP CONSTRAINT "key_roles_api_key_id_fkey"');
    await queryRunner.query('ALTER TABLE "key_roles" DROP CONSTRAINT "key_roles_tenant_id_fkey"');
    await queryRunner.query('ALTER TABLE "key_permissions" DROP CONSTRAINT "key_permissions_permission_id_fkey"');
    await queryRunner.query('ALTER TABLE "key_permissions" DROP CONSTRAINT "key_permissions_api_key_id_fkey"');
    await queryRunner.query('ALTER TABLE "key_permissions" DROP CONSTRAINT "key_permissions_tenant_id_fkey"');
    await queryRunner.query('ALTER TABLE "role_permissions" DROP CONSTRAINT "role_permissions_permission_id_fkey"');
    await queryRunner.query('ALTER TABLE "role_permissions" DROP CONSTRAINT "role_permissions_role_id_fkey"');
    await queryRunner.query('ALTER TABLE "role_permissions" DROP CONSTRAINT "role_permissions_tenant_id_fkey"');
    await queryRunner.query('ALTER TABLE "roles" DROP CONSTRAINT "roles_tenant_id_fkey"');
    await queryRunner.query('ALTER TABLE "permissions" DROP CONSTRAINT "permissions_tenant_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."key_roles_tenant_id_role_id_idx"');
    await queryRunner.query('DROP TABLE "key_roles"');
    await queryRunner.query('DROP INDEX "public"."key_permissions_tenant_id_permission_id_idx"');
    await queryRunner.query('DROP TABLE "key_permissions"');
    await queryRunner.query('DROP INDEX "public"."role_permissions_tenant_id_permission_id_idx"');
    await queryRunner.query('DROP TABLE "role_permissions"');
    await queryRunner.query('DROP INDEX "public"."roles_tenant_id_name_key"');
    await queryRunner.query('DROP TABLE "roles"');
    await queryRunner.query('DROP INDEX "public"."permissions_tenant_id_name_key"');
    await queryRunner.query('DROP TABLE "permissions"');
  }
}
