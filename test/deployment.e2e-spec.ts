import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { renderConfigTable } from '../src/config/config-docs';
import { configSchema, PLACEHOLDER_SECRETS } from '../src/config/config.schema';

const root = join(__dirname, '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');
const SECRET_NAMES = Object.keys(PLACEHOLDER_SECRETS) as (keyof typeof PLACEHOLDER_SECRETS)[];

/** Resolves compose `${VAR:-default}` to its default and `${VAR:?message}` to a sample value. */
function interpolate(value: string): string {
  return value.replace(/\$\{(\w+)(?::?([-?])([^}]*))?\}/g, (_match, name: string, kind?: string, rest?: string) =>
    kind === '-' ? rest! : `sample-${name.toLowerCase()}`,
  );
}

/** A compose `environment:` section, written as a map or as a list of NAME=value. */
function environmentOf(service: { environment?: Record<string, unknown> | string[] }): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, String(value)]));
}

/** Dockerfile instructions (continuation lines joined, comments dropped), grouped by stage. */
function dockerfileStages(text: string): string[][] {
  const instructions = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const stages: string[][] = [];
  for (const instruction of instructions) {
    if (/^FROM\s/i.test(instruction)) stages.push([]);
    stages.at(-1)?.push(instruction);
  }
  return stages;
}

describe('deployment files', () => {
  describe('docker-compose.yml', () => {
    const compose = parse(read('docker-compose.yml'));
    const services = compose?.services ?? {};

    it('defines the postgres, redis and app services', () => {
      expect(Object.keys(services)).toEqual(expect.arrayContaining(['postgres', 'redis', 'app']));
    });

    it('points the app at the compose postgres and redis, in production, with every secret required', () => {
      const env = environmentOf(services.app ?? {});
      expect(env.NODE_ENV).toBe('production');
      const database = new URL(interpolate(env.DATABASE_URL ?? ''));
      expect(database.protocol).toMatch(/^postgres(ql)?:$/);
      expect(database.hostname).toBe('postgres');
      const redis = new URL(interpolate(env.REDIS_URL ?? ''));
      expect(redis.protocol).toBe('redis:');
      expect(redis.hostname).toBe('redis');
      for (const name of SECRET_NAMES) {
        expect({ name, value: env[name] }).toEqual({ name, value: expect.stringMatching(new RegExp(`^\\$\\{${name}:\\?.+\\}$`)) });
      }
    });

    it('starts the app only once postgres and redis are healthy', () => {
      const dependsOn = services.app?.depends_on ?? {};
      expect(Array.isArray(dependsOn)).toBe(false);
      expect(dependsOn.postgres?.condition).toBe('service_healthy');
      expect(dependsOn.redis?.condition).toBe('service_healthy');
    });

    it('gives postgres, redis and the app healthchecks', () => {
      expect(String(services.postgres?.healthcheck?.test ?? '')).toContain('pg_isready');
      expect(String(services.redis?.healthcheck?.test ?? '')).toMatch(/redis-cli.*ping/);
      expect(String(services.app?.healthcheck?.test ?? '')).toContain('/health');
    });

    it('keeps postgres data in a declared named volume', () => {
      const declared = Object.keys(compose?.volumes ?? {});
      const used = (services.postgres?.volumes ?? []).map((volume: string | { source?: string }) =>
        typeof volume === 'string' ? volume.split(':')[0] : volume.source,
      );
      expect(used.filter((name: string | undefined) => name && declared.includes(name))).not.toHaveLength(0);
    });
  });

  describe('Dockerfile', () => {
    const stages = dockerfileStages(read('Dockerfile'));
    const runtime = stages.at(-1) ?? [];

    it('builds in one stage and runs from another', () => {
      expect(stages.length).toBeGreaterThanOrEqual(2);
      expect(runtime.some((line) => /^COPY\s+--from=/i.test(line))).toBe(true);
    });

    it('installs only production dependencies in the runtime stage', () => {
      expect(runtime.some((line) => /^RUN\s.*\bnpm ci\b.*--omit=dev/i.test(line))).toBe(true);
    });

    it('runs as a non-root user', () => {
      const users = runtime.filter((line) => /^USER\s/i.test(line)).map((line) => line.split(/\s+/)[1]);
      expect(users.length).toBeGreaterThan(0);
      expect(['root', '0', '0:0']).not.toContain(users.at(-1));
    });

    it('binds to every interface and declares a healthcheck on /health', () => {
      const env = runtime.filter((line) => /^ENV\s/i.test(line)).join(' ');
      expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
      expect(runtime.filter((line) => /^HEALTHCHECK\s/i.test(line)).join(' ')).toContain('/health');
      expect(runtime.filter((line) => /^CMD\s/i.test(line)).join(' ')).toContain('dist/src/main.js');
    });
  });

  describe('.env.example', () => {
    const text = read('.env.example');
    const assignments = [...text.matchAll(/^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/gm)];
    const active = Object.fromEntries(assignments.filter((match) => !match[1]).map((match) => [match[2], match[3].trim()]));

    it('mentions every configuration variable', () => {
      const mentioned = new Set(assignments.map((match) => match[2]));
      const missing = Object.keys(configSchema.shape).filter((name) => !mentioned.has(name));
      expect(missing).toEqual([]);
    });

    it('sets the secrets to the placeholders production refuses', () => {
      expect(Object.fromEntries(SECRET_NAMES.map((name) => [name, active[name]]))).toEqual(PLACEHOLDER_SECRETS);
    });
  });

  describe('README.md', () => {
    const readme = read('README.md');

    it('contains the configuration table rendered from the schema', () => {
      const match = readme.match(/<!-- config-table:start -->\r?\n([\s\S]*?)\r?\n<!-- config-table:end -->/);
      expect(match?.[1]).toBe(renderConfigTable());
    });

    it('says how to bring up the compose stack, reach it and sign in', () => {
      const section = readme.slice(readme.indexOf('## Docker Compose'), readme.indexOf('\n## ', readme.indexOf('## Docker Compose') + 1));
      expect(section).toContain('cp .env.example .env');
      expect(section).toMatch(/^docker compose up\b/m);
      expect(section).toContain('(#first-tenant-user-and-key)');
      expect(section).toContain('http://127.0.0.1:3000/login');
      expect(readme).toContain('## First tenant, user and key');
      const ports = (parse(read('docker-compose.yml'))?.services?.app?.ports ?? []).map(String);
      expect(ports).toContain('3000:3000');
    });

    it('documents running several instances and the demo data', () => {
      expect(readme).toContain('## Several instances');
      expect(readme).toMatch(/```sh\r?\nnpm run seed:demo\r?\n```/);
    });

    it('gives the quick-start and test commands', () => {
      expect(readme).toContain('npm ci && npm start');
      expect(readme).toMatch(/```(?:sh|bash)?\r?\nnpm test\r?\n```/);
    });
  });
});
