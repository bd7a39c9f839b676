import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * Secrets that may also be given as a file (Docker and Kubernetes secrets mount files):
 * `NAME_FILE=/run/secrets/name` reads NAME from that file.
 */
export const FILE_SECRETS = [
  'JWT_SECRET',
  'KEY_PEPPER',
  'CONFIG_ENCRYPTION_KEY',
  'ADMIN_TOKEN',
  'METRICS_TOKEN',
  'DATABASE_URL',
  'DATABASE_LISTEN_URL',
  'SMTP_URL',
] as const;

type FileVariable = `${(typeof FILE_SECRETS)[number]}_FILE`;

/** The `*_FILE` variables, for the schema (and so for the README table and .env.example). */
export const secretFileVariables = Object.fromEntries(
  FILE_SECRETS.map((name) => [
    `${name}_FILE`,
    z
      .string()
      .min(1)
      .optional()
      .describe(`File holding ${name} (one trailing newline is dropped); not together with ${name}.`),
  ]),
) as Record<FileVariable, z.ZodOptional<z.ZodString>>;

/**
 * Replaces each `NAME_FILE` by `NAME` read from that file. Both set at once is refused (which
 * one would win is a guess), as is a file that cannot be read or is empty; errors name the
 * variable and the path, never the content.
 */
export function readSecretFiles(
  input: Record<string, string>,
  fail: (message: string) => Error,
): Record<string, string> {
  const result = { ...input };
  for (const name of FILE_SECRETS) {
    const path = input[`${name}_FILE`];
    if (path === undefined) continue;
    if (input[name] !== undefined) throw fail(`${name} and ${name}_FILE are both set; set only one`);
    let content: string;
    try {
      content = readFileSync(path, 'utf8');
    } catch (error) {
      throw fail(`${name}_FILE: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const value = content.replace(/\r?\n$/, '');
    if (value === '') throw fail(`${name}_FILE: ${path} is empty`);
    result[name] = value;
  }
  return result;
}
