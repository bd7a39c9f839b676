import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  runToExit as runProcessToExit,
  START,
  startService as startProcess,
  StartedService,
} from '../support/service-process';
import { createTestDatabase, databaseUrl, dropTestDatabase, TEST_DATABASE_URL } from './test-database';

export type ServiceProcess = StartedService;

/** The environment of a started service: nothing from the developer's shell leaks in. */
function cleanEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  return { NODE_ENV: 'development', PORT: '0', LOG_LEVEL: 'info', CI: 'true', ...env };
}

/**
 * Runs `npm start`'s entry (scripts/start.js) and waits until it is ready. The wait is generous
 * for a loaded machine: how fast it starts is a figure to measure, not something a test can time.
 */
export function startService(
  env: Record<string, string | undefined>,
  readyTimeoutMs = 45_000,
): Promise<ServiceProcess> {
  return startProcess({ env: cleanEnv(env), entry: START, readyTimeoutMs });
}

/** Runs the service expecting it to refuse to start; resolves with its exit code and output. */
export function runToExit(
  env: Record<string, string | undefined>,
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runProcessToExit({ env: cleanEnv(env), entry: START, timeoutMs });
}

/**
 * Where a started service keeps its data: a fresh PostgreSQL database copied from the migrated
 * template when TEST_DATABASE_URL is set, else an embedded directory. `drop()` removes it.
 */
export async function serviceDatabase(): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyward-service-'));
  const removeDir = () => rmSync(dataDir, { recursive: true, force: true });
  if (TEST_DATABASE_URL) {
    const name = await createTestDatabase();
    return {
      env: { DATA_DIR: dataDir, DATABASE_URL: databaseUrl(name) },
      drop: async () => (removeDir(), dropTestDatabase(name)),
    };
  }
  return { env: { DATA_DIR: dataDir }, drop: async () => removeDir() };
}

/** A JSON request to a started service: its status and parsed body. */
export async function call(
  url: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
) {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
