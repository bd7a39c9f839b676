// `npm run bench`: every benchmark in this folder, one after another; fails if any fails.
const { readdirSync } = require('node:fs');
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

const only = process.argv[2];
let failed = false;
for (const file of readdirSync(__dirname).filter(
  (name) => name.endsWith('.bench.js') && (!only || name.includes(only)),
)) {
  console.log(`\n=== ${file}`);
  const result = spawnSync(process.execPath, [join(__dirname, file)], { stdio: 'inherit' });
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
