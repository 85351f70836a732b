import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { HttpServer } from './http-server.js';

describe('HttpServer', () => {
  const server = new HttpServer({
    routes: [
      { method: 'GET', pattern: /^(.*)$/, body: 0, handle: (req) => ({ status: 200, body: { path: req.params[0], query: [...req.query] } }) },
      {
        method: 'POST', pattern: /^\/stream$/, body: 0,
        handle: () => ({
          status: 200,
          body: { chunks: (async function* () { yield Buffer.from('a'); yield Buffer.from('b'); })(), cancel: () => {}, trailers: () => ({ 'x-done': 'yes' }) },
        }),
      },
    ],
    notFound: () => ({ status: 404 }),
    errorReply: () => ({ status: 500 }),
  });
  let port = 0;
  const get = (method: string, path: string) => new Promise<{ body: string; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
    request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString())).on('end', () => resolve({ body, trailers: res.trailers }));
    }).on('error', reject).end();
  });
  before(async () => {
    port = (await server.listen('127.0.0.1', 0)).port;
  });
  after(() => server.close());

  it('routes on the path as the URL parser gives it, plain or not', async () => {
    const targets = [
      '/', '/2015-03-31/functions/my-fn/invocations', '/a/b?x=1&y=%20z&x=2', '/a%2Fb/c?', '/a/./b', '/a/../b', '/a/%2e%2E/b', '//double/slash',
      '/a//b', '/a.b/c.', '/x?q=a+b&r', '/%7Euser/x', '/a"b{c}|d^e`f<g>', '/a\\b', '/a/b#frag', "/keep-(these)!*'~$&;=:@,",
    ];
    for (const target of targets) {
      const url = new URL(target, 'http://localhost');
      const { body } = await get('GET', target);
      assert.ok(body.startsWith('{'), `${target}: ${body}`);
      assert.deepEqual(JSON.parse(body), { path: url.pathname, query: [...url.searchParams] }, target);
    }
  });

  it('a streamed body ends with its trailers', async () => {
    const { body, trailers } = await get('POST', '/stream');
    assert.equal(body, 'ab');
    assert.equal(trailers['x-done'], 'yes');
  });
});

describe('HttpServer authentication of the head', () => {
  let bodyRead = false;
  const server = new HttpServer({
    routes: [{ method: 'POST', pattern: /^\/put$/, body: 8 * 1024 * 1024, handle: () => {
      bodyRead = true;
      return { status: 204 };
    } }],
    notFound: () => ({ status: 404 }),
    errorReply: () => ({ status: 500 }),
    authenticateHead: (_route, req) => (req.headers.authorization === 'Bearer right' ? undefined : { status: 401 }),
  });
  let port = 0;
  before(async () => {
    port = (await server.listen('127.0.0.1', 0)).port;
  });
  after(() => server.close());

  it('refuses a caller without the token on its head alone: a body it announces is never waited for or read', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/put', headers: { authorization: 'Bearer wrong', 'content-length': 8 * 1024 * 1024 } }, (res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      req.flushHeaders(); // the head only: the announced 8 MiB never come
    });
    assert.equal(status, 401);
    assert.equal(bodyRead, false);
  });
});
