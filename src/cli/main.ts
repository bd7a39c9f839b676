import { Command, Option } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { ApiClient, normalizeUrl } from './client';
import {
  activeCredentials,
  credentialsPath,
  deleteConfigCache,
  deleteCredentials,
  readConfigCache,
  readCredentials,
  writeConfigCache,
  writeCredentials,
} from './credentials';
import { CliError, EXIT, EXIT_CODES_HELP } from './errors';
import { envLines, exitQuietlyOnClosedPipe, formatTable, note, print, printJson, valueText } from './output';
import { promptHidden, promptLine, readPasswordFromStdin } from './prompt';

/** A key as the API describes it (never its secret, except right after creation). */
interface KeyDto {
  id: string;
  name: string;
  hint: string;
  scopes: string[];
  status: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  apiKey?: string;
}

const scopeList = (value: string) => value.split(/[\s,]+/).filter(Boolean);
const date = (value: string | null) => (value ? value.slice(0, 16).replace('T', ' ') : 'never');

/** Runs an action; a CliError becomes its message on stderr and its exit code. */
function run<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (error) {
      const cliError = error instanceof CliError ? error : new CliError((error as Error)?.message ?? String(error));
      note(`keyward: ${cliError.message}`);
      process.exitCode = cliError.exitCode;
    }
  };
}

function keyClient() {
  const credentials = activeCredentials();
  return {
    credentials,
    client: new ApiClient(credentials.url, { apiKey: credentials.apiKey, keySource: credentials.keySource }),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A whole number from min to max given on the command line, checked before anything is sent. */
function wholeNumber(option: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max)
    throw new CliError(`${option} must be a whole number from ${min} to ${max}, not "${text}".`);
  return value;
}

/**
 * The key a command names: its id, or else its exact name, the start of its id or of its hint
 * (kw_abcd) when exactly one key that is not revoked matches. Needs keys:read for anything but an id.
 */
async function resolveKey(client: ApiClient, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref;
  const keys = (await allKeys(client)).filter((key) => key.status !== 'revoked');
  const byName = keys.filter((key) => key.name === ref);
  const matches = byName.length
    ? byName
    : keys.filter((key) => ref.length >= 4 && (key.id.startsWith(ref) || key.hint.startsWith(ref)));
  if (matches.length === 1) return matches[0].id;
  if (!matches.length) throw new CliError(`No key named or starting with "${ref}"; give its id.`, EXIT.NOT_FOUND);
  throw new CliError(
    `"${ref}" matches ${matches.length} keys (${matches.map((key) => key.id).join(', ')}); give the id of one.`,
  );
}

async function allKeys(client: ApiClient, status?: string): Promise<KeyDto[]> {
  const keys: KeyDto[] = [];
  for (let page = 1; ; page++) {
    const query = new URLSearchParams({ page: String(page), limit: '100', ...(status ? { status } : {}) });
    const body = (
      await client.request<{ items: KeyDto[]; total: number }>('GET', `/v1/api-keys?${query}`, {
        label: 'Listing keys',
      })
    ).body;
    keys.push(...body.items);
    if (!body.items.length || keys.length >= body.total) return keys;
  }
}

/** Shows a key that was just created: the secret alone on stdout, once; the rest on stderr. */
function showNewKey(key: KeyDto, json: boolean, what: string): void {
  if (json) return printJson(key);
  note(`${what} "${key.name}" (${key.id}), scopes ${key.scopes.join(' ') || '-'}, expires ${date(key.expiresAt)}.`);
  note('Copy the key now; it is not shown again:');
  print(key.apiKey);
}

async function login(options: {
  url?: string;
  email?: string;
  passwordStdin?: boolean;
  scopes: string;
  name?: string;
}): Promise<void> {
  const rawUrl = options.url ?? process.env.KEYWARD_URL;
  if (!rawUrl) throw new CliError('Give the server with --url <server> (or set KEYWARD_URL).');
  const url = normalizeUrl(rawUrl);
  const scopes = scopeList(options.scopes);
  if (options.passwordStdin && !options.email) throw new CliError('--password-stdin needs --email.');
  const email = (options.email ?? (await promptLine('Email: '))).trim();
  if (!email) throw new CliError('An email is required.');
  // The password lives only in this call; it is sent once and never stored or printed.
  const password = options.passwordStdin ? await readPasswordFromStdin() : await promptHidden('Password: ');

  const tokens = (
    await new ApiClient(url).request<{ accessToken: string }>('POST', '/auth/login', {
      body: { email, password },
      label: 'Signing in',
    })
  ).body;
  const asUser = new ApiClient(url, { bearer: tokens.accessToken });
  let created: KeyDto;
  try {
    const name = options.name ?? hostname();
    const reply = await asUser.request<KeyDto>('POST', '/auth/api-key/generate', {
      body: { name, scopes },
      label: 'Creating an API key',
      allow: [403],
    });
    if (reply.status === 403)
      throw new CliError(
        `Permission denied: ${(reply.body as { message?: string }).message ?? 'you may not create this key'}`,
        EXIT.FORBIDDEN,
      );
    created = reply.body;
  } finally {
    // The sign-in only served to create the key: end its session so the tokens die with it.
    await asUser.request('POST', '/auth/logout', { allow: [400, 401, 403, 404, 429, 500, 503] }).catch(() => undefined);
  }

  const previous = (() => {
    try {
      return readCredentials();
    } catch {
      return undefined;
    }
  })();
  writeCredentials({
    url,
    apiKey: created.apiKey!,
    keyId: created.id,
    keyName: created.name,
    createdAt: new Date().toISOString(),
  });
  deleteConfigCache(); // fetched with the old key
  note(`Logged in to ${url} as ${email}.`);
  note(`Stored key "${created.name}" (${created.hint}, scopes ${created.scopes.join(' ')}) in ${credentialsPath()}.`);

  // One machine, one key: the key this login replaces is revoked (best effort).
  if (previous && previous.apiKey !== created.apiKey) {
    const old = new ApiClient(previous.url, { apiKey: previous.apiKey }, 5000);
    const revoked = await old.request('DELETE', '/auth/api-key', { allow: [401, 403, 404] }).then(
      (reply) => reply.status === 204,
      () => false,
    );
    if (revoked) note(`Revoked the previously stored key ${previous.keyName ?? ''} (${previous.keyId}).`);
  }
}

async function whoami(options: { json?: boolean }): Promise<void> {
  const { credentials, client } = keyClient();
  const me = (await client.request('GET', '/auth/me')).body;
  if (options.json) return printJson({ url: credentials.url, ...me });
  const fromEnv = [process.env.KEYWARD_URL && 'KEYWARD_URL', process.env.KEYWARD_API_KEY && 'KEYWARD_API_KEY'].filter(
    Boolean,
  );
  const rows = [
    ['server', credentials.url],
    ['user', me.user ? `${me.user.email} (${me.user.role})` : 'none (service key)'],
    ['tenant', `${me.tenant.name} (${me.tenant.slug})`],
    ['key', me.apiKeyId ?? ''],
    ['scopes', (me.scopes as string[]).join(' ')],
    ...(fromEnv.length ? [['from', fromEnv.join(', ')]] : []),
  ];
  rows.forEach(([label, value]) => print(`${`${label}:`.padEnd(8)} ${value}`));
}

async function logout(): Promise<void> {
  const stored = readCredentials();
  // Already where logout leads: say so and succeed, so scripts can log out unconditionally.
  if (!stored) return note(`Not logged in (no ${credentialsPath()}); nothing to do.`);
  const client = new ApiClient(stored.url, { apiKey: stored.apiKey });
  let reply;
  try {
    reply = await client.request<{ code?: string }>('DELETE', '/auth/api-key', {
      allow: [401, 403],
      label: 'Revoking the key',
    });
  } catch (error) {
    if (error instanceof CliError && error.exitCode === EXIT.UNREACHABLE) {
      throw new CliError(
        `${error.message} The key was not revoked and ${credentialsPath()} was kept; try again later.`,
        EXIT.UNREACHABLE,
      );
    }
    throw error;
  }
  deleteCredentials();
  if (reply.status === 204)
    note(`Revoked key "${stored.keyName}" (${stored.keyId}) on ${stored.url} and deleted ${credentialsPath()}.`);
  else
    note(`The server no longer accepts this key (${reply.body?.code ?? reply.status}); deleted ${credentialsPath()}.`);
}

async function listKeys(options: { json?: boolean; status?: string }): Promise<void> {
  const { credentials, client } = keyClient();
  const keys = await allKeys(client, options.status);
  if (options.json) return printJson(keys);
  const rows = keys.map((key) => [
    key.id,
    key.id === credentials.keyId ? `${key.name} (this machine)` : key.name,
    key.hint,
    key.scopes.join(' '),
    key.status,
    date(key.expiresAt),
    key.lastUsedAt ? date(key.lastUsedAt) : '',
  ]);
  print(formatTable(['ID', 'NAME', 'HINT', 'SCOPES', 'STATUS', 'EXPIRES', 'LAST USED'], rows));
}

async function createKey(options: {
  json?: boolean;
  name?: string;
  scopes?: string;
  expiresInDays?: string;
  service?: boolean;
}): Promise<void> {
  const body: Record<string, unknown> = {};
  if (options.name) body.name = options.name;
  if (options.scopes) body.scopes = scopeList(options.scopes);
  if (options.expiresInDays !== undefined)
    body.expiresInDays = wholeNumber('--expires-in-days', options.expiresInDays, 1, 3650);
  const { client } = keyClient();
  if (options.service) body.service = true;
  const created = (await client.request<KeyDto>('POST', '/v1/api-keys', { body, label: 'Creating the key' })).body;
  showNewKey(created, Boolean(options.json), 'Created key');
}

async function revokeKey(ref: string): Promise<void> {
  const { credentials, client } = keyClient();
  const id = await resolveKey(client, ref);
  // Revoking is idempotent on the server; the person asking should still learn it changed nothing.
  const current = await client.request<KeyDto & { revokedAt?: string | null }>(
    'GET',
    `/v1/api-keys/${encodeURIComponent(id)}`,
    { label: 'Looking up the key', allow: [403] },
  );
  if (current.status === 200 && current.body.status === 'revoked')
    throw new CliError(
      `Key "${current.body.name}" (${id}) was already revoked${current.body.revokedAt ? ` at ${date(current.body.revokedAt)}` : ''}; nothing changed.`,
    );
  await client.request('DELETE', `/v1/api-keys/${encodeURIComponent(id)}`, { label: 'Revoking the key' });
  note(`Revoked key ${id}.`);
  if (id === credentials.keyId) note('That was the key of this machine: run `keyward login` to get a new one.');
}

async function rotateKey(ref: string, options: { json?: boolean; graceSeconds?: string }): Promise<void> {
  const body =
    options.graceSeconds === undefined
      ? {}
      : { gracePeriodSeconds: wholeNumber('--grace-seconds', options.graceSeconds, 0, 7 * 86_400) };
  const { credentials, client } = keyClient();
  const id = await resolveKey(client, ref);
  const created = (
    await client.request<KeyDto>('POST', `/v1/api-keys/${encodeURIComponent(id)}/rotate`, {
      body,
      label: 'Rotating the key',
    })
  ).body;
  const stored = readCredentials();
  // Rotating this machine's own key: keep using the new one, since the old one is on its way out.
  if (stored && id === credentials.keyId) {
    writeCredentials({ ...stored, apiKey: created.apiKey!, keyId: created.id, createdAt: new Date().toISOString() });
    note(`The rotated key was this machine's: stored the new one in ${credentialsPath()}.`);
  }
  showNewKey(created, Boolean(options.json), 'New key');
}

async function getConfig(name: string | undefined, options: { json?: boolean; env?: boolean }): Promise<void> {
  const { credentials, client } = keyClient();
  const cache = readConfigCache(credentials);
  const reply = await client.request<Record<string, unknown>>('GET', '/config', {
    headers: cache ? { 'if-none-match': cache.etag } : {},
    label: 'Fetching configuration',
  });
  let config = reply.body;
  const omitted = Number(reply.headers.get('keyward-omitted-secrets') ?? 0);
  if (omitted > 0)
    note(
      `${omitted} secret ${omitted === 1 ? 'entry was' : 'entries were'} omitted: this key lacks the config:secrets scope.`,
    );
  if (reply.status === 304) {
    if (!cache) throw new CliError('The server answered 304 Not Modified to a request without a cached copy.');
    config = cache.body;
  } else {
    const etag = reply.headers.get('etag');
    try {
      if (etag) writeConfigCache(credentials, etag, config);
    } catch {
      // only a cache: the command still succeeds
    }
  }
  if (name !== undefined) {
    if (!Object.hasOwn(config, name))
      throw new CliError(`No configuration entry named ${name} (or this key may not read it).`, EXIT.NOT_FOUND);
    if (options.json) printJson(config[name]);
    else if (options.env) print(envLines({ [name]: config[name] })[0]);
    else print(valueText(config[name]));
    return;
  }
  if (options.json) printJson(config);
  else if (options.env) envLines(config).forEach((line) => print(line));
  else
    print(
      formatTable(
        ['NAME', 'VALUE'],
        Object.entries(config).map(([key, value]) => [key, valueText(value)]),
      ),
    );
}

/** The value as JSON when it parses (`42`, `true`, `{"a":1}`, `"text"`), else the text itself. */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function setConfig(name: string, value: string, options: { secret?: boolean; json?: boolean }): Promise<void> {
  const { client } = keyClient();
  const body = { value: parseValue(value), ...(options.secret ? { secret: true } : {}) };
  const entry = (
    await client.request('PUT', `/v1/config/entries/${encodeURIComponent(name)}`, { body, label: 'Saving' })
  ).body;
  if (options.json) printJson(entry);
  else note(`Set ${name}${options.secret ? ' (secret, encrypted at rest)' : ''}.`);
}

function packageVersion(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return '0.0.0';
}

export function buildProgram(): Command {
  const program = new Command('keyward')
    .description('Sign in to a Keyward server once, keep an API key, and read or change configuration.')
    .version(packageVersion())
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('login')
    .description(
      'Sign in with email and password, create an API key for this machine and store it (never the password)',
    )
    .option('--url <server>', 'server URL (default: $KEYWARD_URL)')
    .option('--email <email>', 'account email (asked for when omitted)')
    .option('--password-stdin', 'read the password from standard input instead of asking')
    .option('--scopes <list>', 'comma-separated scopes of the new key', 'config:read')
    .option('--name <name>', 'name of the new key (default: this machine’s host name)')
    .action(run(login));

  program
    .command('whoami')
    .description('Show the server, user, tenant and scopes of the current key')
    .option('--json', 'print JSON')
    .action(run(whoami));
  program
    .command('logout')
    .description('Revoke the stored key on the server, then delete the credentials file')
    .action(run(logout));

  const keys = program.command('keys').description('Manage API keys (needs keys:read / keys:write)');
  keys
    .command('list')
    .description('List the keys this key may see')
    .addOption(
      new Option('--status <status>', 'only keys with this status').choices([
        'active',
        'disabled',
        'revoked',
        'expired',
      ]),
    )
    .option('--json', 'print JSON')
    .action(run(listKeys));
  keys
    .command('create')
    .description('Create a key; it is printed once')
    .option('--name <name>', 'name of the key')
    .option('--scopes <list>', 'comma-separated scopes (default: the tenant’s default scopes)')
    .option('--expires-in-days <days>', 'expire after this many days')
    .option('--service', 'a service key of the tenant instead of a key of the user')
    .option('--json', 'print JSON, including the key')
    .action(run(createKey));
  keys
    .command('revoke')
    .description('Revoke a key at once and for good')
    .argument('<key>', 'key id, or its name or the start of its id or hint when only one key matches')
    .action(run(revokeKey));
  keys
    .command('rotate')
    .description('Replace a key; the old one keeps working for the grace period')
    .argument('<key>', 'key id, or its name or the start of its id or hint when only one key matches')
    .option('--grace-seconds <seconds>', 'how long the old key keeps working (default 86400)')
    .option('--json', 'print JSON, including the new key')
    .action(run(rotateKey));

  const config = program.command('config').description('Read and change the tenant’s configuration');
  config
    .command('get')
    .description('Print the configuration, or one entry (cached with ETag in the credentials directory)')
    .argument('[name]', 'entry name')
    .option('--json', 'print JSON')
    .addOption(new Option('--env', "print `export NAME='value'` lines to eval in a shell").conflicts('json'))
    .action(run(getConfig));
  config
    .command('set')
    .description('Set an entry; the value is taken as JSON when it parses (42, true, {"a":1}), else as text')
    .argument('<name>', 'entry name')
    .argument('<value>', 'value')
    .option('--secret', 'encrypt at rest and serve only to keys with config:secrets')
    .option('--json', 'print the stored entry as JSON')
    .action(run(setConfig));

  return program;
}

export async function runCli(argv: string[] = process.argv): Promise<void> {
  exitQuietlyOnClosedPipe();
  await buildProgram().parseAsync(argv);
}
