/** Everything the CLI prints: results on stdout, messages and the spinner on stderr. */

export function print(text = ''): void {
  process.stdout.write(`${text}\n`);
}
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}
export const printJson = (value: unknown): void => print(JSON.stringify(value, null, 2));

/** A plain left-aligned table; empty cells show as "-". */
export function formatTable(headers: string[], rows: string[][]): string {
  const cells = [headers, ...rows.map((row) => row.map((cell) => (cell === '' ? '-' : cell)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '))
    .join('\n');
}

/** A configuration value as text: strings as they are, anything else as JSON. */
export const valueText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/** `a.b-c` -> `A_B_C`; a leading digit gets a `_` so the name is a valid shell variable. */
export function envName(key: string): string {
  const name = key.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/** Single quotes keep everything literal in POSIX shells; a quote inside becomes '\''. */
export const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/**
 * `export NAME='value'` lines, safe to `eval` in a POSIX shell. A JSON null has no value in a
 * shell: it becomes `unset NAME`, never the text 'null' (which a string "null" would give).
 */
export function envLines(config: Record<string, unknown>): string[] {
  return Object.entries(config).map(([key, value]) =>
    value === null ? `unset ${envName(key)}` : `export ${envName(key)}=${shellQuote(valueText(value))}`,
  );
}

/**
 * Exits quietly when stdout is closed early (`keyward whoami | head -2`): the reader has what
 * it wanted, so a broken pipe is no error worth a stack trace.
 */
export function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const FRAMES = ['|', '/', '-', '\\'];

/**
 * A spinner on stderr for anything that waits on the network more than a second; only on a
 * terminal, so pipes and logs stay clean. Returns the function that stops and erases it.
 */
export function startSpinner(label: string, delayMs = 1000): () => void {
  if (!process.stderr.isTTY) return () => undefined;
  let frame = 0;
  let interval: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    interval = setInterval(() => process.stderr.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label}`), 100);
  }, delayMs);
  return () => {
    clearTimeout(timer);
    if (interval) {
      clearInterval(interval);
      process.stderr.write('\r\x1b[K');
    }
  };
}
