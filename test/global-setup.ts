import { ensureBuilt } from '../scripts/build-if-stale';
import { openDatabase } from '../src/database/data-source.factory';
import { databaseUrl, TEST_DATABASE_URL, withAdminClient } from './helpers/test-database';

/**
 * Runs once before all test files: compiles dist/ for the tests that start the real
 * process, and on PostgreSQL migrates a template database that every file copies.
 */
export default async function globalSetup(): Promise<void> {
  ensureBuilt({ quiet: true });
  if (!TEST_DATABASE_URL) return;
  const template = `keyward_template_${process.pid}`;
  process.env.KEYWARD_TEMPLATE_DATABASE = template;
  await withAdminClient(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${template}`);
  });
  const database = await openDatabase({ url: databaseUrl(template), poolSize: 1 }, true);
  await database.close();
}
