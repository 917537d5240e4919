import { parse, stringify, YAMLParseError } from 'yaml';
import { errorText } from './api';
import type { LxdProfile } from './types';

/** A profile as the YAML a person edits: only what can be changed. */
export function editable(p: LxdProfile): string {
  return stringify({ description: p.description, config: p.config, devices: p.devices }, { lineWidth: 0 });
}

/** The YAML as a profile body, or the reason it is not one (with the line, for YAML errors). */
export function parseProfile(text: string):
  | {
      body: {
        description: string;
        config: Record<string, string>;
        devices: Record<string, Record<string, string>>;
      };
    }
  | { error: string } {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const line = err.linePos?.[0].line;
      return {
        error: `YAML error${line !== undefined ? ` on line ${line}` : ''}: ${err.message.split('\n')[0] ?? ''}`,
      };
    }
    return { error: errorText(err) };
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    return { error: 'The profile must be a mapping with description, config and devices' };
  const d = doc as Record<string, unknown>;
  const unknownKeys = Object.keys(d).filter(
    (k) => !['description', 'config', 'devices', 'name', 'used_by'].includes(k),
  );
  if (unknownKeys.length > 0)
    return { error: `Unknown top-level key${unknownKeys.length > 1 ? 's' : ''}: ${unknownKeys.join(', ')}` };
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries((d.config as Record<string, unknown> | null | undefined) ?? {})) {
    config[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  const devices: Record<string, Record<string, string>> = {};
  for (const [name, dev] of Object.entries((d.devices as Record<string, unknown> | null | undefined) ?? {})) {
    if (dev === null || typeof dev !== 'object')
      return { error: `Device "${name}" must be a mapping of keys to values` };
    devices[name] = Object.fromEntries(
      Object.entries(dev as Record<string, unknown>).map(([k, v]) => [
        k,
        typeof v === 'string' ? v : String(v),
      ]),
    );
  }
  return { body: { description: typeof d.description === 'string' ? d.description : '', config, devices } };
}
