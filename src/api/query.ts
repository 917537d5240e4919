/** Reads `?recursion=` as LXD does: absent or unparsable means 0. */
export function recursionOf(query: unknown): number {
  const value = (query as Record<string, unknown> | undefined)?.recursion;
  const n = typeof value === 'string' ? Number.parseInt(value, 10) : 0;
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export function queryString(query: unknown, key: string): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Request bodies as objects: anything that is not a JSON object reads as empty. */
export function bodyObject(body: unknown): Record<string, unknown> {
  return body !== null && typeof body === 'object' && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : {};
}

export function str(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : fallback;
}
