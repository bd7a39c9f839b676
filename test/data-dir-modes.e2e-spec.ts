import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startService, ServiceProcess } from './helpers/service-process';

const ADMIN_TOKEN = 'data-dir-modes-admin-token-0123456789abcdef';

/** Every path under `dir` (itself included): `dir 700`, `file 644`… */
function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (path: string) => {
    const stat = lstatSync(path);
    out[path.slice(dir.length) || '/'] = `${stat.isDirectory() ? 'dir' : 'file'} ${(stat.mode & 0o777).toString(8)}`;
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dir);
  return out;
}

/** Resolves once the service has logged a line matching `pattern` (listens to its output). */
function logged(service: ServiceProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve) => {
    const check = () => pattern.test(service.output()) && (service.child.stdout!.off('data', check), resolve());
    service.child.stdout!.on('data', check);
    check();
  });
}

/** The built service with the embedded database, started from a shell whose umask is 000. */
describe('DATA_DIR is private to the service whatever the umask', () => {
  let root: string;
  let service: ServiceProcess | undefined;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'keyward-modes-'));
  });
  afterAll(async () => {
    await service?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('starts with umask 000, fixes what an earlier run left open, and every file it writes is 0600 in 0700 folders', async () => {
    const dataDir = join(root, 'data');
    // Left by an older version: a world-writable folder and a world-readable outbox message.
    mkdirSync(join(dataDir, 'outbox'), { recursive: true });
    writeFileSync(join(dataDir, 'outbox', 'old.eml'), 'Subject: old\n');
    chmodSync(dataDir, 0o777);
    chmodSync(join(dataDir, 'outbox'), 0o777);
    chmodSync(join(dataDir, 'outbox', 'old.eml'), 0o666);

    const previous = process.umask(0);
    try {
      service = await startService({ DATA_DIR: dataDir, ADMIN_TOKEN });
    } finally {
      process.umask(previous);
    }
    expect(service.output()).toMatch(/DATA_DIR was readable by other users; made it owner-only/);

    // Write through every path: rows (WAL), a mailed token (outbox).
    const admin = { 'x-admin-token': ADMIN_TOKEN, 'content-type': 'application/json' };
    const tenant = (await (
      await fetch(`${service.url}/admin/tenants`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ name: 'Modes' }),
      })
    ).json()) as { id: string };
    const email = 'modes@example.com';
    const user = await fetch(`${service.url}/admin/tenants/${tenant.id}/users`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ email, role: 'owner', password: 'violet tractor modes umbrella' }),
    });
    expect(user.status).toBe(201);
    const mailed = logged(service, /mail written to outbox/);
    expect(
      (
        await fetch(`${service.url}/auth/password/forgot`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email }),
        })
      ).status,
    ).toBe(202);

    await mailed;
    const running = modes(dataDir);
    expect(Object.keys(running)).toEqual(
      expect.arrayContaining(['/', '/secrets.json', '/pglite', '/pglite.lock', '/outbox', '/outbox/old.eml']),
    );
    expect(
      Object.keys(running).some(
        (path) => path.startsWith('/outbox/') && path.endsWith('.eml') && !path.endsWith('old.eml'),
      ),
    ).toBe(true);
    const private_ = (mode: string) => mode === 'dir 700' || mode === 'file 600';
    const open = Object.entries(running).filter(([, mode]) => !private_(mode));
    expect(open).toEqual([]);
    expect(Object.keys(running).length).toBeGreaterThan(20);

    expect(await service.stop()).toBe(0);
    service = undefined;
    expect(Object.entries(modes(dataDir)).filter(([, mode]) => !private_(mode))).toEqual([]);
  });
});
