// Compiles the TypeScript sources when dist/ is missing or older than any source file.
// Used by `npm start` and by the test setup, so a fresh clone needs no separate build step.
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const stamp = join(root, 'dist', '.build-stamp');
const sources = ['src', 'migrations', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

function ensureBuilt({ quiet = false, force = false } = {}) {
  const builtAt = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  if (!force && builtAt >= Math.max(...sources.map((s) => newestMtime(join(root, s))))) return false;
  if (!quiet)
    process.stderr.write(
      'keyward: compiling TypeScript into dist/ (missing or older than the sources); this takes about 30 s, once...\n',
    );
  const started = Date.now();
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error('TypeScript compilation failed');
  writeFileSync(stamp, new Date().toISOString() + '\n');
  if (!quiet) process.stderr.write(`keyward: compiled in ${Math.round((Date.now() - started) / 1000)} s.\n`);
  return true;
}

module.exports = { ensureBuilt };

if (require.main === module) {
  try {
    ensureBuilt({ force: process.argv.includes('--force') });
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
