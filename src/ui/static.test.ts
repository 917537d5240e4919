import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openUiFile } from './static.js';

describe('openUiFile', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'lxdpm-ui-'));
    await mkdir(join(root, 'assets'));
    await writeFile(join(root, 'index.html'), '<html>app</html>');
    await writeFile(join(root, 'assets', 'app-1234.js'), 'console.log(1)');
    await writeFile(join(tmpdir(), 'lxdpm-ui-secret.txt'), 'secret');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(join(tmpdir(), 'lxdpm-ui-secret.txt'), { force: true });
  });

  it('serves built assets with their content type, cacheable forever', async () => {
    const file = await openUiFile(root, 'assets/app-1234.js');
    expect(file).toMatchObject({ contentType: 'text/javascript; charset=utf-8', immutable: true });
    if (typeof file === 'object') expect(await text(file.stream)).toBe('console.log(1)');
  });

  it.each(['', 'instances', 'instances/c1', 'login'])(
    'answers the app route "%s" with index.html',
    async (path) => {
      const file = await openUiFile(root, path);
      expect(file).toMatchObject({ contentType: 'text/html; charset=utf-8', immutable: false });
      if (typeof file === 'object') expect(await text(file.stream)).toBe('<html>app</html>');
    },
  );

  it.each(['assets/missing.js', 'favicon.png', '../lxdpm-ui-secret.txt', '%2e%2e/lxdpm-ui-secret.txt'])(
    'answers "%s" with not-found, never a file outside the UI',
    async (path) => {
      expect(await openUiFile(root, path)).toBe('not-found');
    },
  );

  it('reports an unbuilt UI', async () => {
    expect(await openUiFile(join(root, 'nothing'), 'instances')).toBeUndefined();
  });
});
