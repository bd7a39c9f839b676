import { ChildProcess } from 'node:child_process';

export const ROOT: string;
/** dist/src/main.js, the compiled service. */
export const MAIN: string;
/** scripts/start.js, what `npm start` runs. */
export const START: string;

export interface StartOptions {
  /** The child's environment (PATH, HOME and NODE_PATH are added); PORT unset or '0' means a free port. */
  env?: Record<string, string | undefined>;
  entry?: string;
  /** A program to run node under, e.g. ['taskset', '-c', '0']. */
  prefix?: string[];
  /** 'keep' (default): in memory, read with output(); 'inherit': this process's stdout/stderr. */
  output?: 'keep' | 'inherit';
  /** Write the output to this file instead. */
  logFile?: string;
  readyTimeoutMs?: number;
}

export interface StartedService {
  url: string;
  port: number;
  child: ChildProcess;
  logFile?: string;
  /** Everything written to stdout and stderr so far (output 'keep'). */
  output(): string;
  alive(): boolean;
  /** Resolves with the exit code once the process and its output streams have ended. */
  exited: Promise<number | null>;
  /** Sends the signal (SIGTERM) unless the process already ended; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function freePort(): Promise<number>;
export function startService(options?: StartOptions): Promise<StartedService>;
export function runToExit(options?: {
  env?: Record<string, string | undefined>;
  entry?: string;
  timeoutMs?: number;
}): Promise<{
  code: number | null;
  stdout: string;
  stderr: string;
}>;
