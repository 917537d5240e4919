import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

// Processes are watched through /proc: there is no pidfd in Node, and the daemons we stop are not
// always our children (a test worker may have restarted one), so polling is the only general way.

const POLL_MS = 50;

function isNotFound(err: unknown): boolean {
  return err instanceof Error && 'code' in err && (err.code === 'ENOENT' || err.code === 'ESRCH');
}

/** True while the process exists and is not a zombie (a zombie has already exited). */
export async function isAlive(pid: number): Promise<boolean> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
  // The state letter follows the command name, which is in parentheses and may itself hold ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** The process's argv, or undefined when it is gone. */
export async function readCmdline(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((part) => part !== '');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function readPidFile(path: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Waits until the process is gone; false when it still runs after timeoutMs. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Sends `sig`, waits up to graceMs, then SIGKILLs; resolves once the process is gone. */
export async function terminate(
  pid: number,
  sig: NodeJS.Signals,
  graceMs: number,
): Promise<'exited' | 'killed'> {
  signal(pid, sig);
  if (await waitForExit(pid, graceMs)) return 'exited';
  signal(pid, 'SIGKILL');
  if (await waitForExit(pid, 10_000)) return 'killed';
  throw new Error(`process ${pid} survived SIGKILL for 10 s`);
}

export interface ProcessEntry {
  pid: number;
  ppid: number;
  cmdline: string;
}

/** Every live process with its parent and its argv joined by spaces. */
export async function listProcesses(): Promise<ProcessEntry[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const entries = await Promise.all(
    pids.map(async (pid): Promise<ProcessEntry | undefined> => {
      try {
        const [stat, cmdline] = await Promise.all([
          readFile(`/proc/${pid}/stat`, 'utf8'),
          readFile(`/proc/${pid}/cmdline`, 'utf8'),
        ]);
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return { pid, ppid, cmdline: cmdline.split('\0').join(' ').trim() };
      } catch (err) {
        if (isNotFound(err)) return undefined; // exited while we looked
        throw err;
      }
    }),
  );
  return entries.filter((entry) => entry !== undefined);
}
