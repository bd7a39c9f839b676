import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './app-config';
import { configSchema } from './config.schema';
import { FILE_SECRETS } from './secret-files';

const dir = () => mkdtempSync(join(tmpdir(), 'keyward-secret-files-'));
function secretFile(content: string): string {
  const file = join(dir(), 'secret');
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}
const production = {
  NODE_ENV: 'production',
  JWT_SECRET: 'j'.repeat(40),
  KEY_PEPPER: 'p'.repeat(40),
  CONFIG_ENCRYPTION_KEY: 'ab'.repeat(32),
};

describe('secrets from files (*_FILE)', () => {
  it('knows a _FILE variant of every secret, and the schema lists each', () => {
    expect([...FILE_SECRETS].sort()).toEqual(
      [
        'ADMIN_TOKEN',
        'CONFIG_ENCRYPTION_KEY',
        'DATABASE_LISTEN_URL',
        'DATABASE_URL',
        'JWT_SECRET',
        'KEY_PEPPER',
        'METRICS_TOKEN',
        'SMTP_URL',
      ].sort(),
    );
    for (const name of FILE_SECRETS) expect(Object.keys(configSchema.shape)).toContain(`${name}_FILE`);
  });

  it('reads each secret from its file, dropping one trailing newline (as `echo` and editors write it)', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      DATA_DIR: dir(),
      JWT_SECRET_FILE: secretFile(`${'j'.repeat(40)}\n`),
      KEY_PEPPER_FILE: secretFile(`${'p'.repeat(40)}\r\n`),
      CONFIG_ENCRYPTION_KEY_FILE: secretFile('ab'.repeat(32)),
      ADMIN_TOKEN_FILE: secretFile(`${'a'.repeat(40)}\n`),
      METRICS_TOKEN_FILE: secretFile(`${'m'.repeat(40)}\n`),
      DATABASE_URL_FILE: secretFile('postgres://keyward:s3cret@db:5432/keyward\n'),
      DATABASE_LISTEN_URL_FILE: secretFile('postgres://keyward:s3cret@db-direct:5432/keyward\n'),
      SMTP_URL_FILE: secretFile('smtp://user:pw@mail.example.com:587\n'),
    });
    expect(config).toMatchObject({
      jwtSecret: 'j'.repeat(40),
      keyPepper: 'p'.repeat(40),
      adminToken: 'a'.repeat(40),
      metricsToken: 'm'.repeat(40),
      databaseUrl: 'postgres://keyward:s3cret@db:5432/keyward',
      databaseListenUrl: 'postgres://keyward:s3cret@db-direct:5432/keyward',
      smtpUrl: 'smtp://user:pw@mail.example.com:587',
    });
    expect(config.configEncryptionKey.toString('hex')).toBe('ab'.repeat(32));
  });

  it('drops only one trailing newline: the rest of the content is the value', () => {
    expect(loadConfig({ DATA_DIR: dir(), JWT_SECRET_FILE: secretFile(` ${'j'.repeat(40)} \n`) }).jwtSecret).toBe(
      ` ${'j'.repeat(40)} `,
    );
  });

  it.each(FILE_SECRETS.map((name) => [name]))('refuses %s and %s_FILE set at once', (name) => {
    const env = { DATA_DIR: dir(), [name]: 'x'.repeat(40), [`${name}_FILE`]: secretFile('y'.repeat(40)) };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(`${name} and ${name}_FILE are both set`);
  });

  it('names the variable and the path when the file cannot be read, never a value', () => {
    const missing = join(dir(), 'nope');
    expect(() => loadConfig({ DATA_DIR: dir(), KEY_PEPPER_FILE: missing })).toThrow(
      `KEY_PEPPER_FILE: cannot read ${missing} (ENOENT)`,
    );
    if (process.getuid?.() !== 0) {
      const unreadable = secretFile('p'.repeat(40));
      chmodSync(unreadable, 0o000);
      expect(() => loadConfig({ DATA_DIR: dir(), KEY_PEPPER_FILE: unreadable })).toThrow(
        /KEY_PEPPER_FILE: cannot read .* \(EACCES\)/,
      );
    }
    expect(() => loadConfig({ DATA_DIR: dir(), KEY_PEPPER_FILE: dir() })).toThrow(
      /KEY_PEPPER_FILE: cannot read .* \(EISDIR\)/,
    );
    expect(() => loadConfig({ DATA_DIR: dir(), KEY_PEPPER_FILE: secretFile('\n') })).toThrow('KEY_PEPPER_FILE: ');
  });

  it('validates a value read from a file like one given directly, naming the variable', () => {
    let message = '';
    try {
      loadConfig({ DATA_DIR: dir(), JWT_SECRET_FILE: secretFile('too-short-secret\n') });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/JWT_SECRET must be at least 32 characters/);
    expect(message).not.toContain('too-short-secret');
  });

  it('still refuses placeholders and missing secrets in production when the rest come from files', () => {
    const { JWT_SECRET: _omitted, ...rest } = production;
    expect(() => loadConfig({ ...rest, DATA_DIR: dir() })).toThrow('JWT_SECRET must be set');
    expect(() =>
      loadConfig({
        ...rest,
        DATA_DIR: dir(),
        JWT_SECRET_FILE: secretFile('change-me-jwt-secret-at-least-32-characters\n'),
      }),
    ).toThrow('placeholder');
  });
});

describe('DATABASE_LISTEN_URL', () => {
  it('defaults to DATABASE_URL', () => {
    expect(loadConfig({ DATA_DIR: dir(), DATABASE_URL: 'postgres://db:6432/keyward' }).databaseListenUrl).toBe(
      'postgres://db:6432/keyward',
    );
  });

  it('takes a direct connection beside a pooled DATABASE_URL', () => {
    const config = loadConfig({
      DATA_DIR: dir(),
      DATABASE_URL: 'postgres://bouncer:6432/keyward',
      DATABASE_LISTEN_URL: 'postgres://db:5432/keyward',
    });
    expect(config).toMatchObject({
      databaseUrl: 'postgres://bouncer:6432/keyward',
      databaseListenUrl: 'postgres://db:5432/keyward',
    });
  });

  it('is refused when it is not a PostgreSQL URL, or without DATABASE_URL', () => {
    expect(() =>
      loadConfig({ DATA_DIR: dir(), DATABASE_URL: 'postgres://db/k', DATABASE_LISTEN_URL: 'mysql://db/k' }),
    ).toThrow(/DATABASE_LISTEN_URL must be a URL/);
    expect(() => loadConfig({ DATA_DIR: dir(), DATABASE_LISTEN_URL: 'postgres://db/k' })).toThrow(
      'DATABASE_LISTEN_URL is set but DATABASE_URL is not',
    );
  });
});
