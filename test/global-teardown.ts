import { TEST_DATABASE_URL, withAdminClient } from './helpers/test-database';

export default async function globalTeardown(): Promise<void> {
  const template = process.env.KEYWARD_TEMPLATE_DATABASE;
  if (!TEST_DATABASE_URL || !template) return;
  await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`));
}
