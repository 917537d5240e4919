import type { LxdMemberStatus } from '../lxd/types.js';

export const STRATEGIES = ['random', 'scatter', 'gather'] as const;

/** `random` picks any eligible host, `scatter` the one with the most room per instance, `gather` the densest. */
export type Strategy = (typeof STRATEGIES)[number];

export const DEFAULT_STRATEGY: Strategy = 'random';

export function isStrategy(value: unknown): value is Strategy {
  return typeof value === 'string' && (STRATEGIES as readonly string[]).includes(value);
}

/** What the planner knows about one host. */
export interface Candidate {
  name: string;
  status: LxdMemberStatus;
  /** Architectures the host can run (`environment.architectures`). */
  architectures: string[];
  cpus: number;
  memory: { total: number; used: number };
  /** Instances on the host, placements in flight included. */
  instances: number;
}

export interface PlacementRequest {
  strategy: Strategy;
  /** `?target=HOST`: only this host may be chosen. */
  target?: string;
  /** Required architecture (the request's, or the image's). */
  architecture?: string;
  /** Memory the instance is limited to (`limits.memory`), in bytes. */
  memory?: number;
}

export type Rejection =
  | { kind: 'offline'; host: string }
  | { kind: 'evacuated'; host: string }
  | { kind: 'architecture'; host: string; wanted: string; available: string[] }
  | { kind: 'memory'; host: string; wanted: number; free: number }
  | { kind: 'unknown-target'; target: string }
  | { kind: 'no-hosts' };

export type Placement = { kind: 'placed'; host: string } | { kind: 'rejected'; reasons: Rejection[] };

export interface PlannerOptions {
  /** Uniform in [0, 1); injected so tests can fix it. */
  random?: () => number;
  /**
   * Scores within this fraction of the best count as equal. Host memory readings are sampled at
   * slightly different moments, so two identical hosts never score exactly alike.
   */
  tolerance?: number;
}

/**
 * The seed's score: f(x, y, z) = x/y + (z/y)·(x/y), with x the free memory, y the instances on the host
 * (at least 1) and z its CPUs (at least 1). More free memory and CPUs per instance scores higher.
 */
export function score(freeMemory: number, instances: number, cpus: number): number {
  const x = Math.max(0, freeMemory);
  const y = Math.max(1, instances);
  const z = Math.max(1, cpus);
  return x / y + (z / y) * (x / y);
}

export function freeMemory(c: Candidate): number {
  return Math.max(0, c.memory.total - c.memory.used);
}

/** Why a host cannot take the instance, or undefined when it can. */
function reject(c: Candidate, req: PlacementRequest): Rejection | undefined {
  switch (c.status) {
    case 'Online':
      break;
    case 'Offline':
      return { kind: 'offline', host: c.name };
    case 'Evacuated':
      return { kind: 'evacuated', host: c.name };
    default: {
      const never: never = c.status;
      return never;
    }
  }
  if (
    req.architecture !== undefined &&
    req.architecture !== '' &&
    !c.architectures.includes(req.architecture)
  ) {
    return { kind: 'architecture', host: c.name, wanted: req.architecture, available: c.architectures };
  }
  if (req.memory !== undefined && req.memory > freeMemory(c)) {
    return { kind: 'memory', host: c.name, wanted: req.memory, free: freeMemory(c) };
  }
  return undefined;
}

/**
 * Chooses a host for a new instance. Filters first (status, `?target`, architecture, memory), then the
 * strategy picks among the rest. Pure: the caller supplies the hosts, their instance counts and the
 * randomness.
 */
export function place(candidates: Candidate[], req: PlacementRequest, opts: PlannerOptions = {}): Placement {
  const pool = [...candidates].sort((a, b) => a.name.localeCompare(b.name));
  if (req.target !== undefined) {
    const target = pool.find((c) => c.name === req.target);
    if (!target) return { kind: 'rejected', reasons: [{ kind: 'unknown-target', target: req.target }] };
    const why = reject(target, req);
    return why ? { kind: 'rejected', reasons: [why] } : { kind: 'placed', host: target.name };
  }
  if (pool.length === 0) return { kind: 'rejected', reasons: [{ kind: 'no-hosts' }] };

  const reasons: Rejection[] = [];
  const eligible: Candidate[] = [];
  for (const c of pool) {
    const why = reject(c, req);
    if (why) reasons.push(why);
    else eligible.push(c);
  }
  const chosen = choose(eligible, req.strategy, opts);
  return chosen ? { kind: 'placed', host: chosen.name } : { kind: 'rejected', reasons };
}

function choose(eligible: Candidate[], strategy: Strategy, opts: PlannerOptions): Candidate | undefined {
  if (eligible.length === 0) return undefined;
  switch (strategy) {
    case 'random': {
      const r = (opts.random ?? Math.random)();
      const index = Math.min(eligible.length - 1, Math.max(0, Math.floor(r * eligible.length)));
      return eligible[index];
    }
    case 'scatter':
      return best(eligible, 1, opts.tolerance);
    case 'gather':
      return best(eligible, -1, opts.tolerance);
    default: {
      const never: never = strategy;
      return never;
    }
  }
}

/**
 * The host with the highest (direction 1) or lowest (direction -1) score. Near-ties go to the host with
 * fewer instances when scattering and more when gathering (the formula cannot tell 0 from 1 instance),
 * then to the first name.
 */
function best(eligible: Candidate[], direction: 1 | -1, tolerance = 0.01): Candidate | undefined {
  const scored = eligible.map((c) => ({ c, s: direction * score(freeMemory(c), c.instances, c.cpus) }));
  const top = Math.max(...scored.map((e) => e.s));
  const margin = Math.abs(top) * tolerance;
  const tied = scored.filter((e) => e.s >= top - margin).map((e) => e.c);
  tied.sort((a, b) => direction * (a.instances - b.instances) || a.name.localeCompare(b.name));
  return tied[0];
}

/** One line per reason, naming the host, for error messages. */
export function describeRejection(r: Rejection): string {
  switch (r.kind) {
    case 'offline':
      return `${r.host} is offline`;
    case 'evacuated':
      return `${r.host} is evacuated`;
    case 'architecture':
      return `${r.host} does not support architecture ${r.wanted} (has ${r.available.join(', ') || 'none'})`;
    case 'memory':
      return `${r.host} has ${r.free} bytes of free memory, ${r.wanted} needed`;
    case 'unknown-target':
      return `no cluster member named "${r.target}"`;
    case 'no-hosts':
      return 'the manager has no hosts';
    default: {
      const never: never = r;
      return never;
    }
  }
}

const UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  kB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
};

/** `limits.memory` in bytes ("512MB", "1GiB"); percentages and unparsable values give undefined. */
export function parseMemoryLimit(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|kB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$/.exec(value);
  if (!m?.[1]) return undefined;
  const unit = UNITS[m[2] ?? ''];
  return unit === undefined ? undefined : Math.floor(Number(m[1]) * unit);
}
