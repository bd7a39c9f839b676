import { chmodSync, existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './app-config';

/**
 * Files the process creates are its own alone: DATA_DIR holds the embedded database (argon2
 * hashes, sessions, its WAL), secrets.json and mailed tokens, and PGlite creates its files with
 * the process umask. Called first thing by the entry points, before anything is written.
 */
export function restrictFileCreationMode(): void {
  process.umask(0o077);
}

/**
 * Makes DATA_DIR and everything under it owner-only (folders 0700, files 0600), whatever the
 * umask was when they were written. Returns how many entries had to be changed; throws a
 * ConfigError naming the path when one cannot be changed (owned by another user).
 */
export function secureDataDir(dir: string): number {
  if (!existsSync(dir)) return 0;
  let changed = 0;
  const visit = (path: string) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return; // chmod would follow it out of DATA_DIR
    const wanted = stat.isDirectory() ? 0o700 : 0o600;
    if ((stat.mode & 0o777) !== wanted) {
      try {
        chmodSync(path, wanted);
      } catch (error) {
        throw new ConfigError(
          `DATA_DIR: ${path} is readable by other users and cannot be made private (${(error as NodeJS.ErrnoException).code}); fix its owner or mode`,
        );
      }
      changed++;
    }
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dir);
  return changed;
}
