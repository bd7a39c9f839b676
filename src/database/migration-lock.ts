import { DataSource, Migration, MigrationExecutor } from 'typeorm';

/**
 * Key of the advisory lock that migrations take; any fixed 64-bit number works, as long as
 * every instance uses the same one. (0x6b657977 spells "keyw".)
 */
export const MIGRATION_LOCK_KEY = 0x6b657977;

/**
 * Runs the pending migrations on PostgreSQL while holding an advisory lock, so replicas that
 * start at once on an empty database take turns instead of racing on CREATE TABLE (which
 * fails with duplicate keys in the system catalogs). Everything happens in one transaction
 * with a transaction-level lock: it holds through a transaction-pooling PgBouncer too, where
 * a session-level lock could land on one server connection and its unlock on another.
 * The second replica waits for the first to commit, then finds nothing pending.
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<Migration[]> {
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.startTransaction();
    await runner.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'all';
    const applied = await executor.executePendingMigrations();
    await runner.commitTransaction();
    return applied;
  } catch (error) {
    if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
    throw error;
  } finally {
    await runner.release();
  }
}
