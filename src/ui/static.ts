import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';

/** Where `npm run build` puts the UI: `web/dist` at the package root (two levels above src/ui and dist/ui). */
export function defaultUiDir(): string {
  return process.env.LXDPM_UI_DIR ?? fileURLToPath(new URL('../../web/dist/', import.meta.url));
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

export interface StaticFile {
  stream: Readable;
  size: number;
  contentType: string;
  /** Content-hashed build assets never change under the same name. */
  immutable: boolean;
}

/**
 * Resolves a path below `/ui/` to a file of the built UI. Paths that name no file (the app's own routes,
 * like `/ui/instances/c1`) get index.html so the single-page app can route them; a missing asset is a 404.
 * Returns undefined when the UI is not built.
 */
export async function openUiFile(
  root: string,
  relative: string,
): Promise<StaticFile | 'not-found' | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return 'not-found';
  }
  const clean = normalize(`/${decoded}`).replace(/^[/\\]+/, '');
  const full = join(root, clean);
  if (!full.startsWith(root.endsWith(sep) ? root : root + sep) && full !== root) return 'not-found';
  const file = clean === '' ? undefined : await regularFile(full);
  if (file !== undefined) {
    return {
      stream: createReadStream(full),
      size: file,
      contentType: contentTypeOf(full),
      immutable: clean.startsWith('assets/'),
    };
  }
  // An asset that is missing must not be answered with HTML (the browser would try to run it).
  if (clean.startsWith('assets/') || (extname(clean) !== '' && extname(clean) !== '.html'))
    return 'not-found';
  const index = join(root, 'index.html');
  const size = await regularFile(index);
  if (size === undefined) return undefined;
  return { stream: createReadStream(index), size, contentType: contentTypeOf(index), immutable: false };
}

async function regularFile(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}
