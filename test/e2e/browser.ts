// Debian's chromium, driven headless by playwright-core (no browser download: the system package).
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.LXDPM_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = join(import.meta.dirname, 'screenshots');

export const DESKTOP = { width: 1366, height: 860 };
export const PHONE = { width: 390, height: 844 };

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions of the page: a test asserts there are none. */
  errors: string[];
  close(): Promise<void>;
}

/** Starts chromium as root with an empty profile and opens one page that accepts the manager's self-signed cert. */
export async function openBrowser(): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'lxdpm-chromium-'));
  // A new, empty profile (--user-data-dir) per run: nothing is remembered between runs.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    ignoreHTTPSErrors: true,
    viewport: DESKTOP,
    // Screenshots right after a resize must not catch the menu mid-slide.
    reducedMotion: 'reduce',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  return {
    context,
    page,
    errors,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Saves the page at desktop and phone width as `NAME-desktop.png` and `NAME-phone.png`. */
export async function screenshots(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
}
