import 'reflect-metadata';
import { createApp } from './app.factory';
import { AppConfig, ConfigError, loadConfig } from './config/app-config';
import { createLogger } from './common/logging/logger';
import { restrictFileCreationMode, secureDataDir } from './config/data-dir';

// Before the configuration writes secrets.json and PGlite its files.
restrictFileCreationMode();

function readConfig(): AppConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}

async function bootstrap(): Promise<void> {
  const config = readConfig();
  const logger = createLogger({
    level: config.logLevel,
    pretty: !config.isProduction && process.stdout.isTTY && !process.env.CI,
  });
  try {
    const changed = secureDataDir(config.dataDir);
    if (changed)
      logger.warn(
        { dataDir: config.dataDir, changed },
        'DATA_DIR was readable by other users; made it owner-only (0700/0600)',
      );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    logger.fatal(error.message);
    process.exit(1);
  }
  let app;
  try {
    app = await createApp(config, { logger });
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    logger.fatal({ err: error }, 'start-up failed');
    await app?.close().catch(() => undefined);
    process.exit(1);
  }
  const url = (await app.getUrl()).replace('[::1]', 'localhost');
  const dashboardUrl = `${url}/login`;
  const docsUrl = config.docsEnabled ? `${url}/docs` : undefined;
  logger.info(
    { url, dashboardUrl, docsUrl, embeddedDatabase: !config.databaseUrl, docs: config.docsEnabled },
    'keyward listening',
  );
  // Where to go next, in words, for a person at a terminal; production logs stay JSON only.
  if (!config.isProduction)
    process.stdout.write(
      `Keyward is ready: dashboard ${dashboardUrl}${docsUrl ? `, API documentation ${docsUrl}` : ''}\n`,
    );

  // Stop accepting, let in-flight requests finish, then close the database (shutdown hooks).
  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    try {
      await app.close();
      logger.info('shutdown complete');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    } finally {
      clearTimeout(deadline);
    }
  };
  process.once('SIGTERM', (signal) => void shutdown(signal));
  process.once('SIGINT', (signal) => void shutdown(signal));
}

void bootstrap();
