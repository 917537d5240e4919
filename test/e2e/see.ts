// What a person checks on the page, as waits that fail with what was seen instead (playwright-core has
// no assertion library of its own).
import type { Locator } from 'playwright-core';

async function until(
  what: string,
  read: () => Promise<string | number | null>,
  ok: (v: string | number | null) => boolean,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  let last: string | number | null = null;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return;
    } catch (err) {
      last = `error: ${err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)}`;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} not seen in ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const matches = (expected: string | RegExp, actual: string) =>
  typeof expected === 'string' ? actual.includes(expected) : expected.test(actual);

/** The element's text contains the string (or matches the pattern). */
export async function seeText(
  locator: Locator,
  expected: string | RegExp,
  timeoutMs = 30_000,
): Promise<void> {
  await until(
    `text ${String(expected)}`,
    () => locator.first().innerText({ timeout: 1000 }),
    (v) => matches(expected, String(v)),
    timeoutMs,
  );
}

/** The element's whole text, trimmed, is exactly this. */
export async function seeExactText(locator: Locator, expected: string, timeoutMs = 30_000): Promise<void> {
  await until(
    `exact text "${expected}"`,
    () => locator.first().innerText({ timeout: 1000 }),
    (v) => String(v).trim() === expected,
    timeoutMs,
  );
}

export async function seeAttribute(
  locator: Locator,
  name: string,
  expected: string | RegExp,
  timeoutMs = 30_000,
): Promise<void> {
  await until(
    `attribute ${name}=${String(expected)}`,
    () => locator.first().getAttribute(name, { timeout: 1000 }),
    (v) => v !== null && (typeof expected === 'string' ? v === expected : expected.test(String(v))),
    timeoutMs,
  );
}

export async function seeCount(locator: Locator, expected: number, timeoutMs = 30_000): Promise<void> {
  await until(
    `${expected} elements`,
    () => locator.count(),
    (v) => v === expected,
    timeoutMs,
  );
}

export async function seeVisible(locator: Locator, timeoutMs = 30_000): Promise<void> {
  await locator.first().waitFor({ state: 'visible', timeout: timeoutMs });
}
