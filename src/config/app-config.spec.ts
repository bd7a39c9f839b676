import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './app-config';
import { PLACEHOLDER_SECRETS } from './config.schema';

const secrets = { JWT_SECRET: 'j'.repeat(40), KEY_PEPPER: 'p'.repeat(40), CONFIG_ENCRYPTION_KEY: 'ab'.repeat(32) };
const dataDir = () => mkdtempSync(join(tmpdir(), 'keyward-config-'));

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({ DATA_DIR: dataDir() });
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      nodeEnv: 'development',
      keyPrefix: 'kw',
      bodyLimit: 102400,
      docsEnabled: true,
      databaseUrl: undefined,
      adminToken: undefined,
    });
    expect(config.publicUrl).toBe('http://127.0.0.1:3000');
  });

  it('reads TRUST_PROXY as a hop count or a list of proxy addresses; unset, 0 or false trusts none', () => {
    const trust = (value?: string) => loadConfig({ DATA_DIR: dataDir(), TRUST_PROXY: value }).trustProxy;
    expect(trust(undefined)).toBeUndefined();
    expect(trust('0')).toBeUndefined();
    expect(trust('false')).toBeUndefined();
    expect(trust('2')).toBe(2);
    expect(trust('127.0.0.1/32, 10.0.0.5,2001:db8::/32')).toEqual(['127.0.0.1/32', '10.0.0.5', '2001:db8::/32']);
  });

  it.each([
    ['PORT', 'eighty', /PORT/],
    ['PORT', '70000', /PORT/],
    ['ADMIN_TOKEN', 'short-token', /ADMIN_TOKEN must be at least 32 characters/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL must be a URL starting with postgres:/],
    ['KEY_PREFIX', 'Bad_Prefix', /KEY_PREFIX/],
    ['CONFIG_ENCRYPTION_KEY', 'not-a-key', /CONFIG_ENCRYPTION_KEY must be 32 bytes/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL/],
    ['DOCS_ENABLED', 'maybe', /DOCS_ENABLED/],
    ['TRUST_PROXY', 'true', /TRUST_PROXY .*`true` is not accepted/],
    ['TRUST_PROXY', '11', /TRUST_PROXY/],
    ['TRUST_PROXY', '10.0.0.0/33', /TRUST_PROXY/],
    ['TRUST_PROXY', 'proxy.internal', /TRUST_PROXY/],
  ])('refuses %s=%s with a message naming it', (name, value, message) => {
    expect(() => loadConfig({ DATA_DIR: dataDir(), [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ DATA_DIR: dataDir(), [name]: value })).toThrow(message);
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ DATA_DIR: dataDir(), PORT: '', DATABASE_URL: '' })).toMatchObject({
      port: 3000,
      databaseUrl: undefined,
    });
  });

  describe('outside production', () => {
    it('generates missing secrets once into DATA_DIR/secrets.json (0600) and reuses them', () => {
      const dir = dataDir();
      const first = loadConfig({ DATA_DIR: dir });
      const file = join(dir, 'secrets.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const stored = JSON.parse(readFileSync(file, 'utf8'));
      expect(Object.keys(stored).sort()).toEqual(['CONFIG_ENCRYPTION_KEY', 'JWT_SECRET', 'KEY_PEPPER']);
      expect(first.jwtSecret).toBe(stored.JWT_SECRET);
      expect(first.jwtSecret.length).toBeGreaterThanOrEqual(32);
      expect(first.configEncryptionKey).toHaveLength(32);
      const second = loadConfig({ DATA_DIR: dir });
      expect(second.jwtSecret).toBe(first.jwtSecret);
      expect(second.keyPepper).toBe(first.keyPepper);
      expect(second.configEncryptionKey.equals(first.configEncryptionKey)).toBe(true);
    });

    it('prefers secrets from the environment and does not write them to disk', () => {
      const dir = dataDir();
      const config = loadConfig({ DATA_DIR: dir, ...secrets });
      expect(config.jwtSecret).toBe(secrets.JWT_SECRET);
      expect(() => readFileSync(join(dir, 'secrets.json'))).toThrow();
    });

    it('refuses a corrupt secrets file instead of silently replacing the secrets', () => {
      const dir = dataDir();
      writeFileSync(join(dir, 'secrets.json'), '{not json');
      expect(() => loadConfig({ DATA_DIR: dir })).toThrow(/secrets.json is not valid JSON/);
    });
  });

  describe('in production', () => {
    it('refuses to start without the secrets, naming each', () => {
      expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: dataDir() })).toThrow(
        /JWT_SECRET, KEY_PEPPER, CONFIG_ENCRYPTION_KEY must be set when NODE_ENV=production/,
      );
      expect(() =>
        loadConfig({ NODE_ENV: 'production', DATA_DIR: dataDir(), ...secrets, KEY_PEPPER: undefined }),
      ).toThrow(/^Invalid configuration: KEY_PEPPER must be set/);
    });

    it.each(Object.keys(PLACEHOLDER_SECRETS))('refuses the .env.example placeholder of %s', (name) => {
      const env = {
        NODE_ENV: 'production',
        DATA_DIR: dataDir(),
        ...secrets,
        [name]: PLACEHOLDER_SECRETS[name as keyof typeof PLACEHOLDER_SECRETS],
      };
      expect(() => loadConfig(env)).toThrow(new RegExp(`${name} still has the placeholder value`));
    });

    it('starts with real secrets, docs off, and writes no secrets file', () => {
      const dir = dataDir();
      const config = loadConfig({ NODE_ENV: 'production', DATA_DIR: dir, ...secrets });
      expect(config).toMatchObject({ isProduction: true, docsEnabled: false });
      expect(() => readFileSync(join(dir, 'secrets.json'))).toThrow();
      expect(loadConfig({ NODE_ENV: 'production', DATA_DIR: dir, DOCS_ENABLED: 'true', ...secrets }).docsEnabled).toBe(
        true,
      );
    });
  });
});
