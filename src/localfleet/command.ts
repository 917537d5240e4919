import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { constants } from 'node:os';

/** What a finished command printed and how it ended (128 + signal number when it was killed). */
export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Kill the command (SIGKILL) when it runs longer than this. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A command that had to succeed exited non-zero; keeps what it said so callers can show why. */
export class CommandFailedError extends Error {
  constructor(
    readonly file: string,
    readonly args: readonly string[],
    readonly result: CommandResult,
  ) {
    super(
      `${[file, ...args].join(' ')} exited with ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`,
    );
    this.name = 'CommandFailedError';
  }
}

/** Runs a command to its end without a shell; a non-zero exit is a value, not an exception. */
export async function runCommand(
  file: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<CommandResult> {
  const child = spawn(file, args, {
    env: opts.env ?? process.env,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    timeout: opts.timeoutMs,
    killSignal: 'SIGKILL',
    signal: opts.signal,
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  if (opts.input !== undefined && child.stdin) {
    // A command that exits without reading its input must not crash us with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input);
  }
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  return {
    stdout: Buffer.concat(stdout).toString('utf8'),
    stderr: Buffer.concat(stderr).toString('utf8'),
    code: code ?? 128 + (signal ? constants.signals[signal] : 0),
  };
}

/** Like runCommand, but a non-zero exit throws CommandFailedError. */
export async function runChecked(
  file: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<CommandResult> {
  const result = await runCommand(file, args, opts);
  if (result.code !== 0) throw new CommandFailedError(file, args, result);
  return result;
}
