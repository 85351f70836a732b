// The web console of a real `stratus up`, driven in real headless Chromium: sign-in with an access
// key, the functions list, a function's configuration, versions and aliases, a test invoke,
// charts, live logs, live environments, and the administrator's view of the warm pool.
// Screenshots: test-artifacts/console/*.png.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateAliasCommand, CreateFunctionCommand, InvokeCommand, PublishVersionCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { Browser, Page } from 'puppeteer-core';
import { clientFor, createAccount, keyOf, type AccountKey } from '../helpers/accounts.js';
import { launchChromium, screenshot, signIn, waitForText } from '../helpers/browser.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const CODE = `exports.handler = async (event) => {
  console.log('handling ' + (event.marker || 'no marker'));
  return { echoed: event };
};`;
const SHOTS = 'console';

async function text(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (node) => node.textContent ?? '');
}

describe('web console in Chromium', () => {
  let s: StratusProcess;
  let account: AccountKey;
  let lambda: LambdaClient;
  let browser: Browser;
  let page: Page;

  before(async () => {
    s = await startStratus({ args: ['--warm-pool', '1'] });
    account = await createAccount(s.url, s.credentials, 'console-a');
    lambda = clientFor(s.url, keyOf(account));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'hello', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler', MemorySize: 128, Timeout: 10,
      Description: 'says hello', Environment: { Variables: { GREETING: 'bonjour' } }, Tags: { team: 'blue' }, Code: { ZipFile: await makeZip({ 'index.js': CODE }) },
    }));
    await lambda.send(new PublishVersionCommand({ FunctionName: 'hello', Description: 'first release' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'live', FunctionVersion: '1' }));
    browser = await launchChromium();
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
  });

  after(async () => {
    await browser?.close();
    await s?.stop();
  });

  test('a wrong secret is refused on the page; the right one signs in and lists the account functions', async () => {
    await page.goto(`${s.url}/_stratus/console/`);
    await page.waitForSelector('#login:not([hidden])', { timeout: 60_000 });
    await page.type('#access-key-id', account.AccessKeyId);
    await page.type('#secret-access-key', 'not-the-secret');
    await page.click('#login button[type=submit]');
    await waitForText(page, '#login-error', 'not valid');
    await signIn(page, s.url, keyOf(account));
    await page.waitForSelector('#functions tr[data-function="hello"]', { timeout: 60_000 });
    assert.match(await text(page, '#who'), new RegExp(account.AccountId));
    assert.match(await text(page, '#functions tr[data-function="hello"]'), /says hello/);
    await screenshot(page, SHOTS, '01-functions');
  });

  test('a function: configuration with variables and tags, versions, aliases', async () => {
    await page.click('#functions tr[data-function="hello"] a');
    await waitForText(page, '#configuration', 'nodejs20.x');
    assert.match(await text(page, '#environment'), /GREETING\s*bonjour/);
    assert.match(await text(page, '#tags'), /team\s*blue/);
    await screenshot(page, SHOTS, '02-configuration');
    await page.click('#tab-versions');
    await page.waitForSelector('#versions tr[data-version="1"]', { timeout: 60_000 });
    assert.match(await text(page, '#versions tr[data-version="1"]'), /first release/);
    await page.click('#tab-aliases');
    await page.waitForSelector('#aliases tr[data-alias="live"]', { timeout: 60_000 });
    assert.match(await text(page, '#aliases tr[data-alias="live"]'), /live\s*1/);
    await screenshot(page, SHOTS, '03-aliases');
  });

  test('a test invoke shows the response and the version that ran', async () => {
    await page.click('#tab-test');
    await page.waitForSelector('#invoke-form', { timeout: 60_000 });
    await page.select('#invoke-qualifier', 'live');
    await page.$eval('#invoke-payload', (node) => {
      (node as unknown as { value: string }).value = '{"marker":"from-the-console"}';
    });
    await page.click('#invoke-button');
    await waitForText(page, '#invoke-response', '"marker":"from-the-console"');
    assert.match(await text(page, '#invoke-status'), /Succeeded — version 1/);
    await screenshot(page, SHOTS, '04-test-invoke');
  });

  test('charts show the invocations and the cold start', async () => {
    await page.click('#tab-monitor');
    await page.waitForSelector('#charts .chart[data-series="invocations"][data-total]', { timeout: 60_000 });
    await page.waitForFunction(() => {
      const doc = (globalThis as unknown as { document: { querySelector(s: string): { getAttribute(n: string): string | null } | null } }).document;
      const total = (series: string) => Number(doc.querySelector(`#charts .chart[data-series="${series}"]`)?.getAttribute('data-total') ?? 0);
      return total('invocations') >= 1 && total('coldStarts') >= 1;
    }, { timeout: 60_000, polling: 200 });
    await page.waitForSelector('#charts canvas', { timeout: 60_000 });
    await screenshot(page, SHOTS, '05-charts');
  });

  test('the logs tab shows the invocation lines, and a new invoke appears live', async () => {
    await page.click('#tab-logs');
    await waitForText(page, '#log-lines', 'handling from-the-console');
    await waitForText(page, '#log-lines', 'REPORT RequestId');
    await lambda.send(new InvokeCommand({ FunctionName: 'hello', Payload: Buffer.from(JSON.stringify({ marker: 'tailed-live' })) }));
    await waitForText(page, '#log-lines', 'handling tailed-live');
    await screenshot(page, SHOTS, '06-logs');
  });

  test('environments show the function idle (or idle and frozen) after its invokes; the account sees no warm pool', async () => {
    await page.click('header nav a[href="#/environments"]');
    await page.waitForSelector('#environments tr[data-function="hello"]:is([data-state="idle"], [data-state="frozen"])', { timeout: 60_000 });
    assert.equal(await page.$('#environments .stems'), null, 'an account does not see the warm pool');
    await screenshot(page, SHOTS, '07-environments');
  });

  test('the administrator sees every account environments and the warm-pool stems', async () => {
    const context = await browser.createBrowserContext();
    try {
      const admin = await context.newPage();
      await admin.setViewport({ width: 1280, height: 900 });
      await signIn(admin, s.url, s.credentials);
      await admin.goto(`${s.url}/_stratus/console/#/environments`);
      await admin.waitForSelector(`#environments tr[data-function="hello"]`, { timeout: 60_000 });
      await waitForText(admin, '#environments .stems', 'Warm-pool stems: 1');
      assert.match(await text(admin, '#environments tr[data-function="hello"]'), new RegExp(account.AccountId));
      await screenshot(admin, SHOTS, '08-admin-environments');
    } finally {
      await context.close();
    }
  });

  test('signing out ends the session: the page asks to sign in again', async () => {
    await page.click('#logout');
    await page.waitForSelector('#login:not([hidden])', { timeout: 60_000 });
    await page.reload();
    await page.waitForSelector('#login:not([hidden])', { timeout: 60_000 });
  });
});
