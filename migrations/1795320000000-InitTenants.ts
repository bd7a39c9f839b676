import { MigrationInterface, QueryRunner } from 'typeorm';

export class InitTenants1795320000000 implements MigrationInterface {
  name = 'InitTenants1795320000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE tenants (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        name text NOT NULL,
        slug text NOT NULL,
        status text NOT NULL DEFAULT 'active',
        max_keys_per_user integer NOT NULL DEFAULT 10,
        max_keys_per_tenant integer NOT NULL DEFAULT 100,
        default_key_scopes text[] NOT NULL DEFAULT '{config:read,keys:read,keys:write}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT tenants_pkey PRIMARY KEY (id),
        CONSTRAINT tenants_slug_key UNIQUE (slug),
        CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended'))
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE tenants`);
  }
}
