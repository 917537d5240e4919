// The browser tests drive the UI the manager serves from web/dist: build it once per run.
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

export default async function setup(): Promise<void> {
  await build({ root: fileURLToPath(new URL('../../web/', import.meta.url)), logLevel: 'warn' });
}
