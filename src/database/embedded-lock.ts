import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';

/** Locks this process holds: a lock file naming our own pid is stale only if it is not one of these. */
const held = new Set<string>();

/**
 * A lock file that keeps two processes from opening the same embedded database directory:
 * PGlite is single-process and two writers would corrupt it. A lock left by a dead process
 * is taken over.
 */
export class EmbeddedLock {
  private constructor(readonly path: string) {
    held.add(resolve(path));
  }

  static acquire(path: string): EmbeddedLock {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return new EmbeddedLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
        const inUse = owner === process.pid ? held.has(resolve(path)) : Number.isInteger(owner) && isAlive(owner);
        if (inUse) {
          throw new Error(
            `The embedded database in ${path.replace(/\.lock$/, '')} is in use by process ${owner}; stop it or set DATA_DIR to another directory`,
          );
        }
        rmSync(path, { force: true });
      }
    }
    throw new Error(`Could not take the lock ${path}`);
  }

  release(): void {
    held.delete(resolve(this.path));
    rmSync(this.path, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
