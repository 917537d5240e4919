import type { LxdOperation } from './types';

/**
 * An operation's progress as LXD reports it: `metadata.progress.percent` (as text or number), or a
 * `…_progress` string like "Unpack: 45% (12MB/s)". Undefined when the operation says nothing.
 */
export function progressOf(op: LxdOperation): { percent: number; text: string } | undefined {
  if (op.status === 'Success') return { percent: 100, text: '100%' };
  const md = op.metadata ?? {};
  const p = md.progress as { percent?: unknown; stage?: unknown; speed?: unknown } | null | undefined;
  if (p !== undefined && p !== null && typeof p === 'object') {
    const percent = Number(p.percent);
    if (Number.isFinite(percent)) {
      const stage = typeof p.stage === 'string' && p.stage !== '' ? `${p.stage.replace(/_/g, ' ')} ` : '';
      const speed = typeof p.speed === 'string' && p.speed !== '' && p.speed !== '0' ? ` · ${p.speed}` : '';
      return { percent, text: `${stage}${percent}%${speed}` };
    }
  }
  for (const [key, value] of Object.entries(md)) {
    if (!key.endsWith('_progress') || typeof value !== 'string') continue;
    const m = /(\d+(?:\.\d+)?)%/.exec(value);
    if (m?.[1] !== undefined) return { percent: Number(m[1]), text: value };
  }
  return undefined;
}
