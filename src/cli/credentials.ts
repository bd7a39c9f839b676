import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError, EXIT, notLoggedIn } from './errors';

/** What is kept on disk: never the password, never access or refresh tokens. */
export interface StoredCredentials {
  url: string;
  apiKey: string;
  keyId: string;
  keyName: string;
  createdAt: string;
}

/** The credentials a command uses, after the environment overrides. */
export interface ActiveCredentials {
  url: string;
  apiKey: string;
  /** Set when the key is the stored one (not one from KEYWARD_API_KEY). */
  keyId?: string;
  /** Where the key came from, for messages about it. */
  keySource: KeySource;
}

export type KeySource = 'KEYWARD_API_KEY' | 'stored';

export interface ConfigCache {
  /** Which server and key the body was fetched with (a hash, so the key is not stored twice). */
  owner: string;
  etag: string;
  body: Record<string, unknown>;
}

/** KEYWARD_CONFIG_DIR, else $XDG_CONFIG_HOME/keyward, else ~/.config/keyward. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KEYWARD_CONFIG_DIR) return env.KEYWARD_CONFIG_DIR;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'keyward');
}

export const credentialsPath = () => join(configDir(), 'credentials.json');
const cachePath = () => join(configDir(), 'config-cache.json');

/** Writes through a temporary file and a rename, so a crash never leaves half a file. Mode 0600 in a 0700 directory. */
function writePrivateFile(path: string, content: string): void {
  const dir = configDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${path} is not valid JSON; delete it and run \`keyward login\` again.`);
  }
}

export function readCredentials(): StoredCredentials | undefined {
  const stored = readJson(credentialsPath()) as Partial<StoredCredentials> | undefined;
  if (stored === undefined) return undefined;
  if (typeof stored?.url !== 'string' || typeof stored.apiKey !== 'string')
    throw notLoggedIn(`${credentialsPath()} is incomplete.`);
  return stored as StoredCredentials;
}

export function writeCredentials(credentials: StoredCredentials): void {
  writePrivateFile(credentialsPath(), `${JSON.stringify(credentials, null, 2)}\n`);
}

export const deleteConfigCache = () => rmSync(cachePath(), { force: true });

/** Forgets the stored key and everything fetched with it. */
export function deleteCredentials(): void {
  rmSync(credentialsPath(), { force: true });
  deleteConfigCache();
}

/** KEYWARD_URL / KEYWARD_API_KEY win over the stored file, one by one. */
export function activeCredentials(env: NodeJS.ProcessEnv = process.env): ActiveCredentials {
  const stored = readCredentials();
  const url = env.KEYWARD_URL || stored?.url;
  const apiKey = env.KEYWARD_API_KEY || stored?.apiKey;
  if (apiKey && !url)
    throw new CliError('KEYWARD_API_KEY is set but no server URL is known: set KEYWARD_URL too.', EXIT.NOT_LOGGED_IN);
  if (!url || !apiKey) throw notLoggedIn();
  const keySource: KeySource = env.KEYWARD_API_KEY ? 'KEYWARD_API_KEY' : 'stored';
  return { url, apiKey, keyId: apiKey === stored?.apiKey ? stored.keyId : undefined, keySource };
}

export const cacheOwner = (credentials: ActiveCredentials) =>
  createHash('sha256').update(`${credentials.url}\n${credentials.apiKey}`).digest('hex');

export function readConfigCache(credentials: ActiveCredentials): ConfigCache | undefined {
  let cache: ConfigCache | undefined;
  try {
    cache = readJson(cachePath()) as ConfigCache | undefined;
  } catch {
    return undefined; // a damaged cache is only a cache
  }
  return cache?.owner === cacheOwner(credentials) && typeof cache.etag === 'string' ? cache : undefined;
}

export function writeConfigCache(credentials: ActiveCredentials, etag: string, body: Record<string, unknown>): void {
  writePrivateFile(cachePath(), JSON.stringify({ owner: cacheOwner(credentials), etag, body } satisfies ConfigCache));
}
