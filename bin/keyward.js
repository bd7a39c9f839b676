#!/usr/bin/env node
// The `keyward` command: compiles dist/ when it is missing or stale, then runs the CLI.
const { ensureBuilt } = require('../scripts/build-if-stale');

try {
  ensureBuilt({ quiet: true });
} catch (error) {
  process.stderr.write(`keyward: ${error.message}\n`);
  process.exit(1);
}
require('../dist/src/cli/main.js')
  .runCli(process.argv)
  .catch((error) => {
    process.stderr.write(`keyward: ${error?.message ?? error}\n`);
    process.exitCode = 1;
  });
