// Browser tests: the app in-process, driven by Debian's Chromium through playwright-core.
const { e2e } = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = {
  ...e2e,
  displayName: 'browser',
  testMatch: ['<rootDir>/test/browser/**/*.browser-spec.ts'],
  testTimeout: 120_000,
  maxWorkers: 1,
};
