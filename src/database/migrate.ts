/**
 * Migration commands, for PostgreSQL (DATABASE_URL) and the embedded database alike:
 *   run | revert | generate <Name> | check
 * `check` exits 1 when the entities need schema changes no migration makes.
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../config/app-config';
import { migrate, openDatabase } from './data-source.factory';
import { restrictFileCreationMode, secureDataDir } from '../config/data-dir';

restrictFileCreationMode();

async function main(): Promise<number> {
  const [command, name] = process.argv.slice(2);
  const config = loadConfig();
  if (secureDataDir(config.dataDir)) console.warn(`made ${config.dataDir} owner-only (0700/0600)`);
  const database = await openDatabase(
    { url: config.databaseUrl, embeddedDir: join(config.dataDir, 'pglite'), requestTimeouts: false },
    false,
  );
  const { dataSource } = database;
  try {
    switch (command) {
      case 'run': {
        const applied = await migrate(database);
        console.log(applied.length ? `applied: ${applied.map((m) => m.name).join(', ')}` : 'no pending migrations');
        return 0;
      }
      case 'revert':
        await dataSource.undoLastMigration({ transaction: 'each' });
        console.log('reverted the last migration');
        return 0;
      case 'generate':
      case 'check': {
        if (command === 'generate' && !/^[A-Z][A-Za-z0-9]+$/.test(name ?? '')) {
          console.error('usage: migrate generate <PascalCaseName>');
          return 2;
        }
        await migrate(database);
        const sql = await dataSource.driver.createSchemaBuilder().log();
        if (sql.upQueries.length === 0) {
          console.log('entities and migrations agree');
          return 0;
        }
        if (command === 'check') {
          console.error('entities and migrations disagree; missing statements:');
          for (const query of sql.upQueries) console.error(`  ${query.query};`);
          return 1;
        }
        const file = writeMigration(
          name!,
          sql.upQueries.map((q) => q.query),
          sql.downQueries.map((q) => q.query).reverse(),
        );
        console.log(`wrote ${file}`);
        return 0;
      }
      default:
        console.error('usage: migrate run | revert | generate <Name> | check');
        return 2;
    }
  } finally {
    await database.close();
  }
}

function writeMigration(name: string, up: string[], down: string[]): string {
  const timestamp = Date.now();
  const className = `${name}${timestamp}`;
  const lines = (queries: string[]) =>
    queries.map((q) => `    await queryRunner.query(${JSON.stringify(q)});`).join('\n');
  const file = join(__dirname, '..', '..', '..', 'migrations', `${timestamp}-${name}.ts`);
  writeFileSync(
    file,
    `import { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
  name = '${className}';

  async up(queryRunner: QueryRunner): Promise<void> {
${lines(up)}
  }

  async down(queryRunner: QueryRunner): Promise<void> {
${lines(down)}
  }
}
`,
  );
  return file;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
