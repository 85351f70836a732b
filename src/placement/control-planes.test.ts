import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StratusError } from '../shared/errors.js';
import { ControlPlanes } from './control-planes.js';

/** A replica set: each URL answers with `answers[url]` (an Error: no answer; a StratusError: a refusal). */
function replicas(answers: Record<string, string | Error>) {
  const calls: string[] = [];
  const call = (url: string) => {
    calls.push(url);
    const a = answers[url];
    return a instanceof Error || a === undefined ? Promise.reject(a ?? new Error(`ECONNREFUSED ${url}`)) : Promise.resolve(a);
  };
  return { calls, call };
}
const notLeader = (leader?: string) => new StratusError('NotLeader', 'not the leader', { details: leader ? { leader } : {} });

describe('ControlPlanes (a worker following the placement leader)', () => {
  it('parses a comma-separated list, trims trailing slashes, drops duplicates, and needs one URL', () => {
    assert.equal(ControlPlanes.parse('https://a:1/, https://b:2,https://a:1').url, 'https://a:1');
    assert.throws(() => ControlPlanes.parse(' , '), /at least one --control-plane/);
  });

  it('follows the leader a refusal names, and keeps following it', async () => {
    const planes = ControlPlanes.parse('https://a,https://b,https://c');
    const r = replicas({ 'https://a': notLeader('https://c'), 'https://c': 'ok' });
    assert.equal(await planes.call(r.call), 'ok');
    assert.deepEqual(r.calls, ['https://a', 'https://c']);
    assert.equal(planes.url, 'https://c');
    const again = replicas({ 'https://c': 'ok' });
    await planes.call(again.call);
    assert.deepEqual(again.calls, ['https://c']);
  });

  it('tries the next URL when a replica does not answer, or refuses without naming a leader', async () => {
    const planes = ControlPlanes.parse('https://a,https://b,https://c');
    const r = replicas({ 'https://a': new Error('ECONNREFUSED'), 'https://b': notLeader(), 'https://c': 'ok' });
    assert.equal(await planes.call(r.call), 'ok');
    assert.deepEqual(r.calls, ['https://a', 'https://b', 'https://c']);
  });

  it('tries each URL once, even when the refusals name a dead leader, then fails with the last failure', async () => {
    const planes = ControlPlanes.parse('https://a,https://b');
    const r = replicas({ 'https://a': notLeader('https://b'), 'https://b': notLeader('https://a') });
    await assert.rejects(planes.call(r.call), (err: unknown) => err instanceof StratusError && err.code === 'NotLeader');
    assert.deepEqual(r.calls, ['https://a', 'https://b']);
  });

  it('does not take any other answer of the control plane elsewhere (a refused credential is refused everywhere)', async () => {
    const planes = ControlPlanes.parse('https://a,https://b');
    const r = replicas({ 'https://a': new StratusError('Forbidden', 'revoked'), 'https://b': 'ok' });
    await assert.rejects(planes.call(r.call), /revoked/);
    assert.deepEqual(r.calls, ['https://a']);
  });
});
