import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A key created without scopes gets the tenant's default scopes: new tenants now default to
 * read-only ones, so such a key cannot mint keys. Existing tenants keep the list they hold
 * (keys their clients create without scopes keep working as before); an operator narrows it
 * with PATCH /admin/tenants/:id {"defaultKeyScopes": [...]}.
 */
export class ReadOnlyDefaultKeyScopes1795330000000 implements MigrationInterface {
  name = 'ReadOnlyDefaultKeyScopes1795330000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "tenants" ALTER COLUMN "default_key_scopes" SET DEFAULT '{config:read,keys:read}'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "tenants" ALTER COLUMN "default_key_scopes" SET DEFAULT '{config:read,keys:read,keys:write}'`,
    );
  }
}
