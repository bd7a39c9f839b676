// `npm run test:reliability`: checks 9, 10, 11 and 13 one after another, each against the built
// service in its own process and a private PostgreSQL cluster. Prints each check's summary
// line; exits non-zero if any check found anything. (Check 12, the soak, is `npm run test:soak`.)
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');
const { ensureBuilt } = require('../../scripts/build-if-stale');

const CHECKS = ['db-restart.js', 'db-hang.js', 'overload.js', 'crash.js'];

ensureBuilt({ quiet: true });
const failed = [];
for (const check of CHECKS) {
  console.log(`\n==== ${check}`);
  const result = spawnSync(process.execPath, [join(__dirname, check)], { stdio: 'inherit' });
  if (result.status !== 0) failed.push(check);
}
console.log(
  `\nreliability: ${CHECKS.length - failed.length}/${CHECKS.length} checks passed${failed.length ? `; failed: ${failed.join(', ')}` : ''}`,
);
process.exit(failed.length ? 1 : 0);
