// Prometheus metrics of a real `stratus up`, scraped from its own metrics listener and read with a
// real exposition-format parser: invocations, errors, throttles and durations per account,
// function, version and alias; cold starts by kind with their init durations; Event invokes;
// concurrent executions and provisioned utilization while an invocation runs; the worker's
// environments, memory and chunk cache. The listener is not the Lambda API.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateAliasCommand, CreateFunctionCommand, DeleteFunctionCommand, InvokeCommand, PublishVersionCommand, PutFunctionConcurrencyCommand,
  PutProvisionedConcurrencyConfigCommand, TooManyRequestsException, type LambdaClient,
} from '@aws-sdk/client-lambda';
import { clientFor, createAccount, keyOf, type AccountKey } from '../helpers/accounts.js';
import { parseExposition, Scrape } from '../helpers/prometheus.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { until } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

const CODE = `exports.handler = async (e) => {
  if (e.fail) throw new Error('asked to fail');
  if (e.sleep) await new Promise((r) => setTimeout(r, e.sleep));
  return { ok: true };
};`;

describe('metrics', () => {
  let s: StratusProcess;
  let a: AccountKey;
  let b: AccountKey;
  let lambdaA: LambdaClient;
  let lambdaB: LambdaClient;

  const scrape = async (): Promise<Scrape> => {
    const res = await fetch(s.metricsUrl);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return new Scrape(await parseExposition(await res.text()));
  };
  const create = async (lambda: LambdaClient, name: string, memory: number) => {
    await lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler', MemorySize: memory,
      Timeout: 10, Code: { ZipFile: await makeZip({ 'index.js': CODE }) },
    }));
  };
  const invoke = async (lambda: LambdaClient, name: string, event: unknown = {}, qualifier?: string) =>
    lambda.send(new InvokeCommand({ FunctionName: name, Qualifier: qualifier, Payload: Buffer.from(JSON.stringify(event)) }));

  before(async () => {
    s = await startStratus({ args: ['--warm-pool', '1'] });
    a = await createAccount(s.url, s.credentials, 'metrics-a');
    b = await createAccount(s.url, s.credentials, 'metrics-b');
    lambdaA = clientFor(s.url, keyOf(a));
    lambdaB = clientFor(s.url, keyOf(b));
    await create(lambdaA, 'echo', 256);
    await create(lambdaB, 'echo', 256);
    await create(lambdaA, 'blocked', 256);
    await create(lambdaA, 'pooled', 128);
    await lambdaA.send(new PutFunctionConcurrencyCommand({ FunctionName: 'blocked', ReservedConcurrentExecutions: 0 }));
  });
  after(async () => {
    lambdaA.destroy();
    lambdaB.destroy();
    await s.stop();
  });

  test('the metrics listener is its own loopback port, printed at start; the Lambda API does not serve metrics', async () => {
    const url = new URL(s.metricsUrl);
    assert.equal(url.hostname, '127.0.0.1');
    assert.equal(url.pathname, '/metrics');
    assert.notEqual(Number(url.port), s.port);
    const onApi = await fetch(`${s.url}/metrics`);
    assert.notEqual(onApi.status, 200);
    assert.doesNotMatch(await onApi.text(), /stratus_/);
    assert.equal((await fetch(new URL('/other', s.metricsUrl))).status, 404);
  });

  test('invocations, errors, throttles and durations per account, function and version; cold starts by kind', async () => {
    await until(async () => (await scrape()).value('stratus_worker_environments', { worker: 'worker-1', state: 'warm-pool' }) === 1, 'the warm-pool stem');
    const A = { account: a.AccountId, function: 'echo', version: '$LATEST' };
    const B = { account: b.AccountId, function: 'echo', version: '$LATEST' };
    assert.equal((await invoke(lambdaA, 'echo')).FunctionError, undefined); // cold
    assert.equal((await invoke(lambdaA, 'echo')).FunctionError, undefined); // warm
    assert.equal((await invoke(lambdaA, 'echo', { fail: true })).FunctionError, 'Unhandled');
    assert.equal((await invoke(lambdaB, 'echo')).FunctionError, undefined);
    await assert.rejects(invoke(lambdaA, 'blocked'), (err) => err instanceof TooManyRequestsException && err.$metadata.httpStatusCode === 429);
    assert.equal((await invoke(lambdaA, 'pooled')).FunctionError, undefined);

    const m = await scrape();
    assert.equal(m.value('stratus_invocations_total', A), 3);
    assert.equal(m.value('stratus_invocation_errors_total', A), 1);
    assert.equal(m.value('stratus_invocation_duration_seconds_count', A), 3, 'one duration per invocation');
    assert.equal(m.value('stratus_invocations_total', B), 1, "the other account's function of the same name is its own series");
    assert.equal(m.value('stratus_invocation_errors_total', B), 0);
    const blocked = { account: a.AccountId, function: 'blocked', version: '$LATEST' };
    assert.equal(m.value('stratus_throttles_total', blocked), 1);
    assert.equal(m.value('stratus_invocations_total', blocked), 0, 'a throttled invoke is not an invocation');
    assert.equal(m.value('stratus_cold_starts_total', { ...A, kind: 'boot' }), 1, 'one cold start: the second and third invocations were warm');
    assert.equal(m.value('stratus_cold_starts_total', { ...B, kind: 'boot' }), 1);
    assert.equal(m.value('stratus_init_duration_seconds_count', { ...A, kind: 'boot' }), 1);
    assert.ok(m.value('stratus_init_duration_seconds_sum', { ...A, kind: 'boot' }) > 0);
    assert.equal(m.type('stratus_init_duration_seconds'), 'histogram');
    assert.equal(m.type('stratus_invocations'), 'counter');
    const pooled = { account: a.AccountId, function: 'pooled', version: '$LATEST' };
    assert.equal(m.value('stratus_cold_starts_total', { ...pooled, kind: 'warm-pool' }), 1);
    assert.equal(m.value('stratus_cold_starts_total', { ...pooled, kind: 'boot' }), 0);
  });

  test('an Event invoke is counted as queued, aged and run', async () => {
    const A = { account: a.AccountId, function: 'echo', version: '$LATEST' };
    const before = (await scrape()).value('stratus_invocations_total', A);
    const out = await lambdaA.send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'Event', Payload: Buffer.from('{"sleep":1500}') }));
    assert.equal(out.StatusCode, 202);
    // It stays in the durable queue until it has run.
    let pending = 0;
    await until(async () => {
      const m = await scrape();
      pending = Math.max(pending, m.value('stratus_async_events_pending', {}));
      return m.value('stratus_invocations_total', A) === before + 1;
    }, 'the event to run');
    assert.equal(pending, 1, 'the queued event was never seen pending');
    const m = await scrape();
    const fn = { account: a.AccountId, function: 'echo' };
    assert.equal(m.value('stratus_async_events_queued_total', fn), 1);
    assert.equal(m.value('stratus_async_event_age_seconds_count', fn), 1);
    assert.equal(m.all('stratus_async_events_dropped_total').length, 0);
    await until(async () => (await scrape()).value('stratus_async_events_pending', {}) === 0, 'the event to leave the queue');
  });

  test('an alias invoke is labelled with the alias and the version it ran; provisioned concurrency and concurrent executions', async () => {
    const { Version } = await lambdaA.send(new PublishVersionCommand({ FunctionName: 'echo' }));
    assert.equal(Version, '1');
    await lambdaA.send(new CreateAliasCommand({ FunctionName: 'echo', Name: 'live', FunctionVersion: '1' }));
    await lambdaA.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'echo', Qualifier: 'live', ProvisionedConcurrentExecutions: 1 }));
    const v1 = { account: a.AccountId, function: 'echo', version: '1' };
    await until(async () => (await scrape()).value('stratus_cold_starts_total', { ...v1, kind: 'provisioned' }) === 1, 'the provisioned environment');

    // While a slow invocation runs, it is one concurrent execution on the provisioned environment.
    let done = false;
    const running = invoke(lambdaA, 'echo', { sleep: 3000 }, 'live').finally(() => (done = true));
    let seen: Scrape | undefined;
    await until(async () => {
      const m = await scrape();
      if (m.value('stratus_concurrent_executions', v1) === 1) seen = m;
      return seen !== undefined || done;
    }, 'the invocation to be running');
    assert.ok(seen, 'the running invocation was never seen as a concurrent execution');
    assert.equal(seen.value('stratus_provisioned_concurrency_utilization', v1), 1);
    assert.equal((await running).FunctionError, undefined);

    const m = await scrape();
    assert.equal(m.value('stratus_invocations_total', { ...v1, alias: 'live' }), 1);
    assert.equal(m.value('stratus_invocations_total', v1), 0, 'an alias invoke carries the alias label');
    assert.equal(m.value('stratus_cold_starts_total', { ...v1, kind: 'boot' }), 0, 'the provisioned environment served it');
    assert.equal(m.value('stratus_concurrent_executions', v1), 0);
    assert.equal(m.value('stratus_provisioned_concurrent_executions', v1), 1);
    assert.equal(m.value('stratus_provisioned_concurrency_utilization', v1), 0);
  });

  test("the worker's environments by state, memory and chunk cache", async () => {
    const m = await scrape();
    const worker = { worker: 'worker-1' };
    const envs = m.all('stratus_worker_environments').filter((x) => x.labels?.worker === 'worker-1');
    // Publishing version 1 retired A's $LATEST environment: B's echo, A's pooled and the provisioned
    // version 1 remain, each idle (or frozen), and the warm pool's refilled stem.
    const state = (name: string) => m.value('stratus_worker_environments', { ...worker, state: name });
    assert.equal(state('idle') + state('frozen'), 3, `environments: ${JSON.stringify(envs)}`);
    assert.equal(state('busy'), 0);
    const reserved = m.value('stratus_worker_memory_reserved_bytes', worker);
    assert.ok(reserved >= (2 * 256 + 128) * 1024 * 1024, `reserved ${reserved}`);
    assert.ok(reserved <= m.value('stratus_worker_memory_bytes', worker));
    assert.ok(m.value('stratus_worker_memory_used_bytes', worker) > 0);
    assert.ok(m.sample('stratus_chunk_cache_hits_total', worker), 'chunk cache hits are exported');
    assert.equal(m.value('stratus_chunk_cache_misses_total', worker), 0, 'no container image ran');
  });

  test('a deleted function\'s series go with it: a tenant cannot grow the metrics by creating and deleting functions', async () => {
    await create(lambdaB, 'brief', 128);
    await invoke(lambdaB, 'brief');
    const labels = { account: b.AccountId, function: 'brief', version: '$LATEST' };
    assert.equal((await scrape()).value('stratus_invocations_total', labels), 1);
    await lambdaB.send(new DeleteFunctionCommand({ FunctionName: 'brief' }));
    const m = await scrape();
    assert.equal(m.all('stratus_invocations_total').some((x) => x.labels?.function === 'brief'), false);
    assert.equal(m.all('stratus_cold_starts_total').some((x) => x.labels?.function === 'brief'), false);
    assert.equal(m.value('stratus_invocations_total', { account: b.AccountId, function: 'echo', version: '$LATEST' }) > 0, true, 'B\'s other function keeps its series');
  });
});
