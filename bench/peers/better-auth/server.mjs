// Better Auth's api-key verify on the simplest realistic server: its own node:http handler that
// reads {"key"} and answers what auth.api.verifyApiKey answers (200 only for a valid key). The
// verify endpoint is server-only in Better Auth, so a service exposes it through a handler of
// its own like this one. PostgreSQL through a pg Pool (Better Auth's Kysely adapter), the
// plugin's default "database" storage, its rate limit on but set never to refuse.
// Environment: PORT, DATABASE_URL. On start it migrates its own tables, makes a user and a key
// through Better Auth's API, and prints {"key": "..."} on its first line of output.
import { createServer } from 'node:http';
import { apiKey } from '@better-auth/api-key';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import pg from 'pg';

const options = {
  database: new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 }),
  secret: 'bench-better-auth-secret-0123456789abcdef',
  baseURL: 'http://127.0.0.1',
  emailAndPassword: { enabled: true },
  telemetry: { enabled: false },
  logger: { disabled: true },
  plugins: [apiKey({ rateLimit: { enabled: true, timeWindow: 1000, maxRequests: 1_000_000_000 } })],
};
const auth = betterAuth(options);
await (await getMigrations(auth.options)).runMigrations();

const email = `bench-${process.pid}@example.com`;
const { user } = await auth.api.signUpEmail({ body: { email, password: 'bench-password-0123456789', name: 'Bench' } });
const created = await auth.api.createApiKey({ body: { userId: user.id, name: 'bench' } });

createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', async () => {
    let status = 200;
    let answer;
    try {
      const { key } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      answer = await auth.api.verifyApiKey({ body: { key } });
      if (!answer.valid) status = 401;
    } catch (error) {
      status = 500;
      answer = { error: String(error?.message ?? error) };
    }
    const body = JSON.stringify(answer);
    response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    response.end(body);
  });
}).listen(Number(process.env.PORT), '127.0.0.1', () =>
  process.stdout.write(`${JSON.stringify({ key: created.key })}\n`),
);
