import { createInterface } from 'node:readline';
import { CliError } from './errors';

const needTerminal = (what: string, hint: string) =>
  new CliError(`Cannot ask for ${what}: standard input is not a terminal. ${hint}`);

/** One visible line from the terminal (the email). */
export async function promptLine(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw needTerminal('the email', 'Pass --email.');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    rl.close();
  }
}

/**
 * A password typed on the terminal with nothing echoed: the terminal is put in raw mode and
 * each key is handled here (Enter ends, Backspace erases, Ctrl-C / Ctrl-D abort).
 */
export function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY)
    return Promise.reject(needTerminal('a password', 'Use --password-stdin to pass it on standard input.'));
  // Raw mode first: keys typed once the question shows must never be echoed.
  stdin.setRawMode(true);
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003') return finish(new CliError('Cancelled.', 130));
        if (char === '\u0004') return typed ? finish() : finish(new CliError('Cancelled.'));
        if (char === '\u007f' || char === '\b') typed = [...typed].slice(0, -1).join('');
        else if (char >= ' ') typed += char;
      }
    };
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** `--password-stdin`: everything on standard input, without the one trailing newline. */
export async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (!password) throw new CliError('--password-stdin: standard input was empty.');
  return password;
}
