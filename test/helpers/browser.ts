// Real headless Chromium (Debian's `chromium`, installed by scripts/setup.sh) driven over the
// DevTools protocol with puppeteer-core; screenshots go to test-artifacts/ (gitignored).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { Key } from './accounts.js';

export const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

export async function launchChromium(): Promise<Browser> {
  const asRoot = process.getuid?.() === 0;
  return puppeteer.launch({
    executablePath: CHROMIUM, headless: true,
    args: [...(asRoot ? ['--no-sandbox'] : []), '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
}

/** Saves a full-page screenshot as test-artifacts/<dir>/<name>.png. */
export async function screenshot(page: Page, dir: string, name: string): Promise<void> {
  const path = join(ARTIFACTS, dir);
  await mkdir(path, { recursive: true });
  await page.screenshot({ path: join(path, `${name}.png`), fullPage: true });
}

/** Waits (generously) until `text` shows as text in the element `selector`. */
export async function waitForText(page: Page, selector: string, text: string, timeout = 60_000): Promise<void> {
  await page.waitForFunction((sel: string, want: string) => Array.from((globalThis as unknown as { document: PageNode }).document.querySelectorAll(sel)).some((n) => (n.textContent ?? '').includes(want)), { timeout, polling: 100 }, selector, text);
}

/** A node of the page, in functions that run in the browser (this project compiles without the DOM library; such functions are sent as source, so they may name nothing of this module's). */
export interface PageNode {
  textContent: string | null;
  getAttribute(name: string): string | null;
  querySelectorAll(selector: string): ArrayLike<PageNode>;
}

/** Signs in to the console of the Stratus at `url` with `key`, as a user would. */
export async function signIn(page: Page, url: string, key: Key): Promise<void> {
  await page.goto(`${url}/_stratus/console/`);
  await page.waitForSelector('#login:not([hidden])', { timeout: 60_000 });
  await page.type('#access-key-id', key.accessKeyId);
  await page.type('#secret-access-key', key.secretAccessKey);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#logout:not([hidden])', { timeout: 60_000 });
}

/** A console session cookie (`name=token`) for `key`, signed in over the console's API as its page does. */
export async function consoleSession(url: string, key: Key): Promise<string> {
  const origin = new URL(url).origin;
  const res = await fetch(`${origin}/_stratus/console/api/login`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-stratus-console': '1', origin }, body: JSON.stringify(key),
  });
  assert.equal(res.status, 200, `signing in to the console of ${origin}`);
  return res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
}
