// Helpers shared by the instance, planner and client tests: find which host really holds an
// instance (asking the hosts directly), and remove a test's instances at the end.
import { expect } from 'vitest';
import type { LocalHost } from '../../src/localfleet/index.js';
import type { TestManager } from './harness.js';

/** Runs `lxc` against the manager and insists it succeeded; returns stdout. */
export async function lxcOk(t: TestManager, args: string[], input?: string): Promise<string> {
  const r = await t.lxc(args, input === undefined ? undefined : { input });
  expect(r.stderr, `lxc ${args.join(' ')}`).not.toMatch(/Error/);
  expect(r.code, `lxc ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Runs `lxc` directly on a host and insists it succeeded; returns stdout. */
export async function hostLxcOk(host: LocalHost, args: string[]): Promise<string> {
  const r = await host.lxc(args, { timeoutMs: 120_000 });
  expect(r.code, `${host.name}: lxc ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Instance names on one host, asked directly. */
export async function namesOn(host: LocalHost): Promise<string[]> {
  const out = await hostLxcOk(host, ['list', '--format', 'csv', '-c', 'n']);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** The host that really holds an instance (exactly one must). */
export async function hostHolding(hosts: LocalHost[], name: string): Promise<string> {
  const holders: string[] = [];
  for (const h of hosts) if ((await namesOn(h)).includes(name)) holders.push(h.name);
  expect(holders, `hosts holding ${name}`).toHaveLength(1);
  return holders[0] ?? '';
}

/** How many instances whose name starts with prefix each host holds. */
export async function countsByHost(hosts: LocalHost[], prefix: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const h of hosts) counts[h.name] = (await namesOn(h)).filter((n) => n.startsWith(prefix)).length;
  return counts;
}

/** Deletes every instance whose name starts with prefix, directly on each host (after a test). */
export async function cleanupPrefixed(hosts: LocalHost[], prefix: string): Promise<void> {
  await Promise.all(
    hosts.map(async (h) => {
      const r = await h.lxc(['list', '--format', 'csv', '-c', 'n'], { timeoutMs: 60_000 });
      if (r.code !== 0) return;
      const names = r.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter((n) => n.startsWith(prefix));
      if (names.length > 0) await h.lxc(['delete', '-f', ...names], { timeoutMs: 180_000 });
    }),
  );
}

/**
 * Where scatter puts n instances on hosts of equal memory and CPUs: the seed's score falls with the
 * instance count, so each goes to a host with the fewest instances (ties to the first name).
 */
export function scatterExpectation(before: Record<string, number>, n: number): Record<string, number> {
  const total = { ...before };
  const placed: Record<string, number> = Object.fromEntries(Object.keys(before).map((h) => [h, 0]));
  for (let i = 0; i < n; i++) {
    const host = Object.keys(total).sort(
      (a, b) => (total[a] ?? 0) - (total[b] ?? 0) || a.localeCompare(b),
    )[0];
    if (host === undefined) break;
    total[host] = (total[host] ?? 0) + 1;
    placed[host] = (placed[host] ?? 0) + 1;
  }
  return placed;
}

/** Where gather puts n instances: all on the host with the most instances (ties to the first name). */
export function gatherExpectation(before: Record<string, number>, n: number): Record<string, number> {
  const hosts = Object.keys(before).sort((a, b) => (before[b] ?? 0) - (before[a] ?? 0) || a.localeCompare(b));
  return Object.fromEntries(Object.keys(before).map((h) => [h, h === hosts[0] ? n : 0]));
}

/** Launches names[i] on hosts[i] directly (replacing a leftover of an earlier run). */
export async function launchOnePerHost(hosts: LocalHost[], names: readonly string[]): Promise<void> {
  await Promise.all(
    names.map(async (name, i) => {
      const host = hosts[i];
      if (!host) throw new Error(`no host ${i}`);
      await host.lxc(['delete', '--force', name]);
      const launched = await host.lxc(['launch', 'busybox', name]);
      if (launched.code !== 0) throw new Error(`launch ${name}: ${launched.stderr}`);
    }),
  );
}

/** Deletes names[i] from hosts[i] directly, whatever state it is in. */
export async function deleteOnePerHost(hosts: LocalHost[], names: readonly string[]): Promise<void> {
  await Promise.all(names.map(async (name, i) => hosts[i]?.lxc(['delete', '--force', name])));
}
