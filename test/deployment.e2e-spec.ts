import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { renderConfigTable } from '../src/config/config-docs';
import { configSchema, PLACEHOLDER_SECRETS } from '../src/config/config.schema';
import { FILE_SECRETS } from '../src/config/secret-files';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Service } from 'kubernetes-models/v1/Service';

// npm's own range semantics (semver ships with npm and is installed as a dependency of many packages; untyped).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { satisfies } = require('semver') as { satisfies(version: string, range: string): boolean };
const root = join(__dirname, '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');
const SECRET_NAMES = Object.keys(PLACEHOLDER_SECRETS) as (keyof typeof PLACEHOLDER_SECRETS)[];

/** Resolves compose `${VAR:-default}` to its default and `${VAR:?message}` to a sample value, innermost first. */
function interpolate(value: string): string {
  const innermost = /\$\{(\w+)(?::?([-?])([^${}]*))?\}/g;
  for (let previous = ''; previous !== value;) {
    previous = value;
    value = value.replace(innermost, (_match, name: string, kind?: string, rest?: string) =>
      kind === '-' ? rest! : `sample-${name.toLowerCase()}`,
    );
  }
  return value;
}

/** A compose `environment:` section, written as a map or as a list of NAME=value. */
function environmentOf(service: { environment?: Record<string, unknown> | string[] }): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
    );
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

    it('points the app at the compose postgres and redis, in production, and lets .env override each', () => {
      const env = environmentOf(services.app ?? {});
      expect(env.NODE_ENV).toBe('production');
      const database = new URL(interpolate(env.DATABASE_URL ?? ''));
      expect(database.protocol).toMatch(/^postgres(ql)?:$/);
      expect(database.hostname).toBe('postgres');
      const redis = new URL(interpolate(env.REDIS_URL ?? ''));
      expect(redis.protocol).toBe('redis:');
      expect(redis.hostname).toBe('redis');
      // Anything but NODE_ENV passes the .env value through when there is one.
      for (const [name, value] of Object.entries(env)) {
        if (name !== 'NODE_ENV')
          expect({ name, value }).toEqual({ name, value: expect.stringMatching(new RegExp(`^\\$\\{${name}:[-?]`)) });
      }
    });

    it('passes every variable of .env to the app (env_file), so none is silently dropped', () => {
      const envFiles = [services.app?.env_file ?? []]
        .flat()
        .map((entry: string | { path: string }) => (typeof entry === 'string' ? entry : entry.path));
      expect(envFiles).toContain('.env');
      // What `environment` sets wins over env_file: only these few, each overridable (above).
      expect(Object.keys(environmentOf(services.app ?? {})).sort()).toEqual([
        'DATABASE_URL',
        'NODE_ENV',
        'PUBLIC_URL',
        'REDIS_URL',
      ]);
    });

    it('holds no literal secret and no default database password', () => {
      const text = read('docker-compose.yml');
      for (const name of [...SECRET_NAMES, 'METRICS_TOKEN', 'SMTP_URL'])
        expect(text).not.toMatch(new RegExp(`^\\s*${name}:`, 'm'));
      expect(environmentOf(services.postgres ?? {}).POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?.+\}$/);
      expect(text).not.toMatch(/POSTGRES_PASSWORD:-/);
      // The app's URL takes its password from the same required variable, not a literal.
      expect(environmentOf(services.app ?? {}).DATABASE_URL).toMatch(
        /postgres:\/\/keyward:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432\//,
      );
    });

    it('publishes no fixed host port, so the app can be scaled', () => {
      const ports = (services.app?.ports ?? []).map(String);
      expect(ports.length).toBeGreaterThan(0);
      for (const port of ports) {
        // A variable whose default is a range (one host port per replica), or no host port at all.
        expect(port).toMatch(/^(\$\{\w+:-\d+-\d+\}:\d+|\d+)$/);
      }
      for (const service of Object.values(services) as { ports?: unknown[] }[]) {
        for (const port of (service.ports ?? []).map(String)) expect(port).not.toMatch(/^\d+:\d+$/);
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
    const active = Object.fromEntries(
      assignments.filter((match) => !match[1]).map((match) => [match[2], match[3].trim()]),
    );

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
      const section = readme.slice(
        readme.indexOf('## Docker Compose'),
        readme.indexOf('\n## ', readme.indexOf('## Docker Compose') + 1),
      );
      expect(section).toContain('cp .env.example .env');
      expect(section).toMatch(/^docker compose up\b/m);
      expect(section).toContain('(#first-tenant-user-and-key)');
      expect(section).toContain('http://127.0.0.1:3000/login');
      expect(readme).toContain('## First tenant, user and key');
      const ports = (parse(read('docker-compose.yml'))?.services?.app?.ports ?? []).map((port: unknown) =>
        interpolate(String(port)),
      );
      expect(ports).toContain('3000-3009:3000');
    });

    it('documents running several instances and the demo data', () => {
      expect(readme).toContain('## Several instances');
      expect(readme).toMatch(/```sh\r?\nnpm run seed:demo\r?\n```/);
    });

    it('gives the quick-start and test commands', () => {
      // One line installs and starts (the operator token is optional, the walk-through uses it).
      expect(readme).toMatch(/```sh\r?\nnpm ci && (ADMIN_TOKEN=\S+ )?npm start\r?\n```/);
      expect(readme).toMatch(/```(?:sh|bash)?\r?\nnpm test\r?\n```/);
    });
  });

  describe('deploy/kubernetes', () => {
    const deployment = parse(read('deploy/kubernetes/deployment.yaml'));
    const service = parse(read('deploy/kubernetes/service.yaml'));
    const container = deployment?.spec?.template?.spec?.containers?.[0] ?? {};

    it('is valid against the Kubernetes API schemas', () => {
      expect(() => new Deployment(deployment).validate()).not.toThrow();
      expect(() => new Service(service).validate()).not.toThrow();
      // The validator is real: a wrong type is refused.
      expect(() =>
        new Deployment({ ...deployment, spec: { ...deployment.spec, replicas: 'three' } }).validate(),
      ).toThrow(/replicas/);
    });

    it('probes /health for liveness and /ready for readiness, and the Service reaches the container port', () => {
      expect(container.livenessProbe?.httpGet?.path).toBe('/health');
      expect(container.startupProbe?.httpGet?.path).toBe('/health');
      expect(container.readinessProbe?.httpGet?.path).toBe('/ready');
      const portNames = (container.ports ?? []).map((port: { name: string }) => port.name);
      expect(portNames).toContain(service.spec.ports[0].targetPort);
      expect(service.spec.selector).toEqual(deployment.spec.template.metadata.labels);
    });

    it('takes every secret from the mounted Secret through *_FILE, never as a literal value', () => {
      const env: { name: string; value?: string; valueFrom?: unknown }[] = container.env ?? [];
      const names = env.map((entry) => entry.name);
      for (const name of FILE_SECRETS) expect(names).not.toContain(name);
      for (const name of ['JWT_SECRET', 'KEY_PEPPER', 'CONFIG_ENCRYPTION_KEY', 'DATABASE_URL'])
        expect(names).toContain(`${name}_FILE`);
      const mount = (container.volumeMounts ?? []).find((m: { name: string }) => m.name === 'secrets');
      const volume = deployment.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'secrets');
      expect(volume?.secret?.secretName).toBeTruthy();
      for (const entry of env.filter((e) => e.name.endsWith('_FILE')))
        expect(entry.value!.startsWith(`${mount.mountPath}/`)).toBe(true);
      for (const entry of env) expect(Object.keys(configSchema.shape)).toContain(entry.name);
    });
  });

  describe('Node versions', () => {
    const declared = JSON.parse(read('package.json')).engines.node as string;
    const lock = JSON.parse(read('package-lock.json')) as {
      packages: Record<string, { engines?: { node?: string } | string[] }>;
    };

    it.each([['20.19.0'], ['24.11.0']])(
      'every locked package accepts Node %s, as package.json promises (no EBADENGINE)',
      (version) => {
        expect(satisfies(version, declared)).toBe(true);
        const refusing = Object.entries(lock.packages)
          .filter(
            ([, meta]) =>
              meta.engines &&
              !Array.isArray(meta.engines) &&
              meta.engines.node &&
              !satisfies(version, meta.engines.node),
          )
          .map(([path, meta]) => `${path} wants node ${(meta.engines as { node: string }).node}`);
        expect(refusing).toEqual([]);
      },
    );

    it('builds the image on a Node LTS line (even major) that is supported', () => {
      const images = read('Dockerfile').match(/^FROM\s+node:(\d+)/gm) ?? [];
      expect(images.length).toBeGreaterThan(0);
      for (const image of images) expect(Number(image.replace(/\D+/g, ''))).toBeGreaterThanOrEqual(22);
      for (const image of images) expect(Number(image.replace(/\D+/g, '')) % 2).toBe(0);
    });
  });
});
