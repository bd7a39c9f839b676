// `node scripts/openapi.js [file]`: writes the OpenAPI document the service serves at /docs/json
// (default dist/openapi.json), so a linter can check it without a running service. It boots the
// built application in this process on a throwaway embedded database and asks it over HTTP,
// so the file is exactly what clients get.
const { mkdirSync, mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { dirname, join, resolve } = require('node:path');
const { ensureBuilt } = require('./build-if-stale');

async function main() {
  const target = resolve(process.argv[2] ?? join(__dirname, '..', 'dist', 'openapi.json'));
  ensureBuilt({ quiet: true });
  require('reflect-metadata');
  const pino = require('pino');
  const { createApp } = require('../dist/src/app.factory');
  const { loadConfig } = require('../dist/src/config/app-config');
  const { createLogger } = require('../dist/src/common/logging/logger');

  const dataDir = mkdtempSync(join(tmpdir(), 'keyward-openapi-'));
  const config = loadConfig({ NODE_ENV: 'development', DATA_DIR: dataDir, DOCS_ENABLED: 'true', LOG_LEVEL: 'warn' });
  const logger = createLogger({ level: config.logLevel, destination: pino.destination(2) });
  const app = await createApp(config, { logger, database: { embeddedDir: 'memory://' } });
  try {
    await app.init();
    const res = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/docs/json' });
    if (res.statusCode !== 200) throw new Error(`/docs/json answered ${res.statusCode}`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, JSON.stringify(JSON.parse(res.body), null, 2) + '\n');
    process.stderr.write(`OpenAPI document written to ${target}\n`);
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
