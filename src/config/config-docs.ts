import { configSchema } from './config.schema';

/** The README's configuration table, rendered from the schema so the two cannot drift. */
export function renderConfigTable(): string {
  const rows = Object.entries(configSchema.shape).map(([name, field]) => {
    const parsed = field.safeParse(undefined);
    const fallback = parsed.success && parsed.data !== undefined ? `\`${String(parsed.data)}\`` : '—';
    return `| \`${name}\` | ${fallback} | ${field.description ?? ''} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
