const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

// NestJS 12 and several of its dependencies ship ESM only. Jest on Node 20 cannot require()
// them, so every installed package marked "type": "module" is compiled to CommonJS by
// @swc/jest like our own code. PGlite is included for its dynamic import() calls, which
// jest cannot run without --experimental-vm-modules, and @fastify/cookie for its import('cookie').
function esmOnlyPackages() {
  const root = join(__dirname, 'node_modules');
  const names = readdirSync(root).flatMap((name) =>
    name.startsWith('@') ? readdirSync(join(root, name)).map((sub) => `${name}/${sub}`) : [name],
  );
  return names.filter((name) => {
    try {
      return JSON.parse(readFileSync(join(root, name, 'package.json'), 'utf8')).type === 'module';
    } catch {
      return false;
    }
  });
}
const transformed = [...esmOnlyPackages(), '@electric-sql/pglite', '@fastify/cookie'].map((name) =>
  name.replace(/[.+]/g, '\\$&'),
);

/** What every project shares: TypeScript and ESM-only packages compiled by @swc/jest. */
const shared = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.(t|j|mj|cj)s$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${transformed.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
};

/**
 * Unit specs beside the code need neither dist/ nor a database, so they have no global setup
 * and start in seconds (`npm run test:unit`). The e2e specs boot the app against a database
 * and some start the built service: their global setup builds dist/ and migrates a template.
 */
const unit = {
  ...shared,
  displayName: 'unit',
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/packages/client/test/**/*.spec.ts'],
};
const e2e = {
  ...shared,
  displayName: 'e2e',
  testMatch: ['<rootDir>/test/**/*.e2e-spec.ts', '<rootDir>/packages/client/test/**/*.e2e-spec.ts'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [unit, e2e],
  // Jest reads the timeout from the top level only, not from a project.
  testTimeout: 60_000,
  maxWorkers: process.env.CI ? 2 : '50%',
};
// The browser project (jest.browser.config.js) starts from the e2e one.
Object.defineProperty(module.exports, 'e2e', { value: e2e, enumerable: false });
