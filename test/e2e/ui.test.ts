// The web UI in a real browser (Debian's chromium, headless) against a real 3-host fleet: what a person
// does from the browser, checked against what the manager and the hosts then hold.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { machine, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/errors/index.js';
import type { LxdImage, LxdInstance, LxdProfile } from '../../src/lxd/index.js';
import { eventually, startTestManager, type TestManager } from '../integration/harness.js';
import { openBrowser, screenshots, type TestBrowser } from './browser.js';
import { seeAttribute, seeCount, seeExactText, seeText, seeVisible } from './see.js';

const run = promisify(execFile);
const C1 = 'ui-e2e-c1';
const C2 = 'ui-e2e-c2';
const PROFILE = 'ui-e2e-p1';
const ALIAS = 'ui-e2e-img';

/** A tiny unified image (metadata.yaml + rootfs/) with a fingerprint of its own on every run. */
async function buildImage(dir: string): Promise<string> {
  await mkdir(join(dir, 'rootfs', 'etc'), { recursive: true });
  await writeFile(join(dir, 'rootfs', 'etc', 'hello'), `made by the UI test at ${Date.now()}\n`);
  await writeFile(
    join(dir, 'metadata.yaml'),
    `architecture: ${machine()}\ncreation_date: ${Math.floor(Date.now() / 1000)}\nproperties:\n  os: uitest\n  description: "UI test image"\n`,
  );
  const path = join(dir, 'ui-test-image.tar.gz');
  await run('tar', ['-C', dir, '-czf', path, 'metadata.yaml', 'rootfs']);
  return path;
}

async function exists(t: TestManager, path: string): Promise<boolean> {
  try {
    await t.api.get(path);
    return true;
  } catch (err) {
    if (err instanceof UpstreamError && err.status === 404) return false;
    throw err;
  }
}

/** Waits for what the page should do, failing early with the error the page shows instead. */
async function untilAlert(page: Page, expected: Promise<unknown>): Promise<void> {
  const alert = page.getByRole('alert').first();
  const shown = alert.waitFor({ timeout: 300_000 }).then(async () => {
    throw new Error(`the page shows an error: ${await alert.innerText()}`);
  });
  shown.catch(() => undefined);
  await Promise.race([expected, shown]);
}

function row(page: Page, name: string) {
  return page.locator(`tr[data-instance="${name}"]`);
}

describe('the web UI', () => {
  let t: TestManager;
  let b: TestBrowser;
  let page: Page;
  let base: string;
  let work: string;
  let importedFingerprint: string | undefined;

  beforeAll(async () => {
    t = await startTestManager();
    base = `https://${t.address}`;
    work = await mkdtemp(join(tmpdir(), 'lxdpm-ui-e2e-'));
    b = await openBrowser();
    page = b.page;
    page.setDefaultTimeout(60_000);
  });

  afterAll(async () => {
    // Each may be missing when beforeAll failed half way.
    const [browser, manager, dir] = [
      b as TestBrowser | undefined,
      t as TestManager | undefined,
      work as string | undefined,
    ];
    await browser?.close();
    if (manager !== undefined) {
      for (const name of [C1, C2]) await manager.lxc(['delete', '--force', `mgr:${name}`]);
      await manager.api.call('DELETE', `/1.0/profiles/${PROFILE}`).catch(() => undefined);
      if (importedFingerprint !== undefined)
        await manager.api.call('DELETE', `/1.0/images/${importedFingerprint}`).catch(() => undefined);
      await manager.api.call('PUT', '/1.0/planner', { state: 'random' }).catch(() => undefined);
      await manager.stop();
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('shows the sign-in page without a session and keeps the API closed', async () => {
    await page.goto(`${base}/ui/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await seeExactText(page.locator('.command'), 'lxdpm ui-login');
    const api = await page.request.get(`${base}/1.0/instances`);
    expect(api.status()).toBe(403);
    await screenshots(page, 'login');
  });

  it('signs in with a one-time link into a secure HttpOnly SameSite=Strict session', async () => {
    const { metadata } = await t.api.call<{ url: string }>('POST', '/1.0/ui/tokens', {});
    expect(metadata.url).toMatch(new RegExp(`^${base}/ui/login\\?token=`));
    await page.goto(metadata.url);
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    expect(new URL(page.url()).search).toBe('');
    const cookie = (await b.context.cookies(base)).find((c) => c.name === 'lxdpm_session');
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict' });
    // The link works once.
    const again = await page.request.post(`${base}/ui/session`, {
      data: { token: new URL(metadata.url).searchParams.get('token') },
    });
    expect(again.status()).toBe(403);
  });

  it('shows every host with its status, version, usage bars and instance count', async () => {
    for (const h of t.hosts) {
      const card = page.locator('article.host-card', { has: page.getByRole('heading', { name: h.name }) });
      await seeVisible(card.getByText('Online'));
      await seeVisible(card.getByText('5.0.2'));
      await seeAttribute(card.getByRole('progressbar', { name: 'Memory' }), 'aria-valuenow', /\d+/);
      await seeAttribute(
        card.getByRole('progressbar', { name: 'Disk (default pool)' }),
        'aria-valuenow',
        /\d+/,
      );
    }
    await seeVisible(page.getByText('3/3'));
    await screenshots(page, 'fleet');
  });

  it('launches a container that appears with its host', async () => {
    await page.getByRole('link', { name: 'Launch' }).click();
    await page.getByLabel('Name').fill(C1);
    await seeText(page.getByTestId('preview-host'), 'h');
    await screenshots(page, 'launch');
    await page.getByRole('button', { name: 'Launch' }).click();
    await untilAlert(page, page.waitForURL(`**/ui/instances/${C1}`, { timeout: 120_000 }));
    const host = (await page.getByTestId('instance-host').textContent()) ?? '';
    const made = await t.api.get<LxdInstance>(`/1.0/instances/${C1}`);
    expect(made.location).toBe(host);
    expect(t.hosts.map((h) => h.name)).toContain(host);
    await seeExactText(page.locator('h1 .status'), 'Running');
    await screenshots(page, 'instance');

    await page.getByRole('link', { name: 'Instances', exact: true }).first().click();
    await seeExactText(row(page, C1).locator('.cell-host'), host);
    await seeText(row(page, C1), 'Running');
  });

  it('stops and starts the container from the list, and the list follows', async () => {
    await page.getByRole('button', { name: `Stop ${C1}`, exact: true }).click();
    await seeText(row(page, C1), 'Stopped', 60_000);
    expect((await t.api.get<LxdInstance>(`/1.0/instances/${C1}`)).status).toBe('Stopped');
    await screenshots(page, 'instances');
    await page.getByRole('button', { name: `Start ${C1}`, exact: true }).click();
    await seeText(row(page, C1), 'Running', 60_000);
    expect((await t.api.get<LxdInstance>(`/1.0/instances/${C1}`)).status).toBe('Running');
  });

  it('shows a change made outside the UI without a reload', async () => {
    // Another client (the lxc CLI) changes the instance; the page follows the event stream.
    const stopped = await t.lxc(['stop', '--force', `mgr:${C1}`]);
    expect(stopped.code, stopped.stderr).toBe(0);
    await seeText(row(page, C1), 'Stopped', 30_000);
    const started = await t.lxc(['start', `mgr:${C1}`]);
    expect(started.code, started.stderr).toBe(0);
    await seeText(row(page, C1), 'Running', 30_000);
  });

  it('stops and starts several containers at once', async () => {
    const launched = await t.lxcLocal(['launch', 'busybox', C2]);
    expect(launched.code, launched.stderr).toBe(0);
    await seeText(row(page, C2), 'Running');
    await page.getByRole('checkbox', { name: 'Select all shown instances' }).check();
    const bulk = page.getByRole('region', { name: 'Bulk actions' });
    await seeText(bulk, '2 selected');
    await screenshots(page, 'instances-bulk');
    await bulk.getByRole('button', { name: 'Stop', exact: true }).click();
    for (const name of [C1, C2]) await seeText(row(page, name), 'Stopped', 60_000);
    await bulk.getByRole('button', { name: 'Start', exact: true }).click();
    for (const name of [C1, C2]) await seeText(row(page, name), 'Running', 60_000);
    for (const name of [C1, C2])
      expect((await t.api.get<LxdInstance>(`/1.0/instances/${name}`)).status).toBe('Running');
    await page.getByRole('button', { name: 'Clear selection' }).click();
  });

  it('runs echo hello in the terminal and shows its output', async () => {
    await row(page, C1).getByRole('link', { name: C1 }).click();
    await page.getByRole('tab', { name: 'Terminal' }).click();
    await seeText(page.locator('.terminal-bar'), 'Connected', 30_000);
    await page.getByRole('application', { name: `Terminal of ${C1}` }).click();
    await page.keyboard.type('echo hello');
    await page.keyboard.press('Enter');
    // xterm.js draws one div per terminal row: the command's output is a row of its own.
    await page
      .locator('.xterm-rows > div')
      .filter({ hasText: /^\s*hello\s*$/ })
      .first()
      .waitFor({ timeout: 30_000 });
    await screenshots(page, 'terminal');
    await page.getByRole('tab', { name: 'Console log' }).click();
    await seeVisible(page.getByRole('heading', { name: 'Console log' }));
    await seeCount(page.getByRole('alert'), 0);
    await screenshots(page, 'console');
  });

  it('creates and deletes a snapshot of the container', async () => {
    await page.getByRole('tab', { name: 'Snapshots' }).click();
    await page.getByPlaceholder('snapshot name (optional)').fill('snap-ui');
    await page.getByRole('button', { name: 'Create snapshot' }).click();
    await seeText(page.getByRole('table', { name: 'Snapshots' }), 'snap-ui');
    expect(await exists(t, `/1.0/instances/${C1}/snapshots/snap-ui`)).toBe(true);
    await screenshots(page, 'snapshots');
    await page.getByRole('button', { name: 'Restore' }).click();
    await page.getByRole('button', { name: 'Restore snap-ui' }).click();
    await seeVisible(page.getByText('Restored snap-ui'));
    await seeCount(page.getByRole('alert'), 0);
    await page.getByRole('button', { name: 'Delete' }).last().click();
    await page.getByRole('button', { name: 'Delete snap-ui' }).click();
    await seeVisible(page.getByText('No snapshots yet.'));
    expect(await exists(t, `/1.0/instances/${C1}/snapshots/snap-ui`)).toBe(false);
  });

  it('imports an image and shows the progress reaching 100% and the image on every host', async () => {
    const file = await buildImage(work);
    await page.getByRole('link', { name: 'Images' }).click();
    await page.getByRole('button', { name: 'Import image' }).click();
    await page.getByLabel('Image file').setInputFiles(file);
    await page.getByLabel('Alias (optional)').fill(ALIAS);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await seeAttribute(
      page.getByRole('progressbar', { name: 'Import on every host' }),
      'aria-valuenow',
      '100',
      120_000,
    );
    await screenshots(page, 'images-import');
    const imported = await eventually(async () =>
      (await t.api.get<LxdImage[]>('/1.0/images', { query: { recursion: '1' } })).find((i) =>
        (i.aliases ?? []).some((a) => a.name === ALIAS),
      ),
    );
    importedFingerprint = imported.fingerprint;
    const listed = page.locator(`tr[data-image="${imported.fingerprint}"]`);
    for (const h of t.hosts)
      await seeVisible(listed.locator('.chip', { hasText: new RegExp(`^${h.name}$`) }));
    for (const h of t.hosts) {
      const res = await h.lxc(['image', 'list', '--format', 'csv', '-c', 'F']);
      expect(res.stdout).toContain(imported.fingerprint);
    }
    await screenshots(page, 'images');
  });

  it('shows the API error in place when a profile gets an invalid key, and saves a valid one', async () => {
    await page.getByRole('link', { name: 'Profiles' }).click();
    await page.getByPlaceholder('new profile').fill(PROFILE);
    await page.getByRole('button', { name: 'Create' }).click();
    const editor = page.getByRole('form', { name: `Edit profile ${PROFILE}` });
    const yaml = editor.getByLabel('Profile as YAML');
    await seeVisible(yaml);
    await yaml.fill('description: made in the UI\nconfig:\n  bogus.key: "1"\ndevices: {}\n');
    await editor.getByRole('button', { name: 'Save' }).click();
    await seeText(editor.getByRole('alert'), 'bogus.key');
    await screenshots(page, 'profiles-error');
    expect((await t.api.get<LxdProfile>(`/1.0/profiles/${PROFILE}`)).config['bogus.key']).toBeUndefined();

    await yaml.fill('description: made in the UI\nconfig:\n  user.note: hello\ndevices: {}\n');
    await editor.getByRole('button', { name: 'Save' }).click();
    await seeCount(editor.getByRole('alert'), 0);
    await eventually(
      async () => (await t.api.get<LxdProfile>(`/1.0/profiles/${PROFILE}`)).config['user.note'] === 'hello',
    );
    await screenshots(page, 'profiles');
  });

  it('changes the planner strategy', async () => {
    await page.getByRole('link', { name: 'Planner' }).click();
    await page.getByText('Scatter', { exact: true }).click();
    await seeText(page.locator('label.strategy.selected'), 'Scatter');
    await seeExactText(page.locator('label.strategy.selected .badge'), 'in use');
    expect(await t.api.get<string>('/1.0/planner')).toBe('scatter');
    await seeCount(page.getByRole('listitem', { name: /^h\d: \d+ instances$/ }), 3);
    await screenshots(page, 'planner');
  });

  it('lists operations', async () => {
    await page.getByRole('link', { name: 'Operations' }).click();
    await seeVisible(page.getByRole('heading', { name: 'Recent' }));
    await seeVisible(page.getByRole('table', { name: 'Recent operations' }));
    await screenshots(page, 'operations');
  });

  it('deletes the containers, one from its row and one through the bulk actions', async () => {
    await page.getByRole('link', { name: 'Instances', exact: true }).first().click();
    await row(page, C2).getByRole('button', { name: 'Delete' }).click();
    await row(page, C2).getByRole('button', { name: 'Stop and delete' }).click();
    await seeCount(row(page, C2), 0, 60_000);
    expect(await exists(t, `/1.0/instances/${C2}`)).toBe(false);
    await page.getByRole('checkbox', { name: `Select ${C1}` }).check();
    const bulk = page.getByRole('region', { name: 'Bulk actions' });
    await bulk.getByRole('button', { name: 'Delete' }).click();
    await bulk.getByRole('button', { name: 'Delete 1' }).click();
    await seeCount(row(page, C1), 0, 60_000);
    expect(await exists(t, `/1.0/instances/${C1}`)).toBe(false);
    await screenshots(page, 'instances-empty');
  });

  it('threw no uncaught error in the page', () => {
    expect(b.errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
  });

  it('ends the session on sign out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const api = await page.request.get(`${base}/1.0/instances`);
    expect(api.status()).toBe(403);
  });
});
