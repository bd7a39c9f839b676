// `npm run bench`: targets.bench.js, every target in one table; fails if any target fails.
// `npm run bench -- <name>` runs the benchmarks whose file name contains <name> instead
// (login, verify-path: figures of their own, outside the targets table).
const { readdirSync } = require('node:fs');
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

const only = process.argv[2] ?? 'targets';
let failed = false;
for (const file of readdirSync(__dirname).filter((name) => name.endsWith('.bench.js') && name.includes(only))) {
  console.log(`\n=== ${file}`);
  const result = spawnSync(process.execPath, [join(__dirname, file)], { stdio: 'inherit' });
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
