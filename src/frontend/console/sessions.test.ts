import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryJournal } from '../../journal/index.js';
import { ManualClock } from '../../shared/clock.js';
import type { KeyLookup } from '../http/index.js';
import { spareBitsSet } from '../../../test/helpers/base64url.js';
import { ConsoleSessions, SESSION_TTL_MS } from './sessions.js';

function keyring(): { keys: KeyLookup; table: Map<string, { secretAccessKey: string; accountId: string }> } {
  const table = new Map([['AKIA1', { secretAccessKey: 'secret-1', accountId: '111111111111' }], ['AKIA2', { secretAccessKey: 'secret-2', accountId: '222222222222' }]]);
  return { keys: (id) => table.get(id), table };
}

test('sign-in needs the key secret; the token names the key account and verifies until it expires', async () => {
  const clock = new ManualClock();
  const sessions = await ConsoleSessions.open(new MemoryJournal().clusterSecrets, clock);
  const { keys } = keyring();
  assert.equal(sessions.signIn(keys, 'AKIA1', 'secret-2'), undefined, 'another key secret');
  assert.equal(sessions.signIn(keys, 'AKIA1', ''), undefined);
  assert.equal(sessions.signIn(keys, 'AKIA9', 'secret-1'), undefined, 'an unknown key');
  const signed = sessions.signIn(keys, 'AKIA1', 'secret-1');
  assert.ok(signed);
  assert.deepEqual(sessions.verify(keys, signed.token), { accessKeyId: 'AKIA1', accountId: '111111111111', expiresMs: clock.now() + SESSION_TTL_MS });
  clock.advance(SESSION_TTL_MS - 1);
  assert.ok(sessions.verify(keys, signed.token), 'still good just before it expires');
  clock.advance(1);
  assert.equal(sessions.verify(keys, signed.token), undefined, 'expired');
});

test('a tampered token is refused: another account or key in the payload, a changed MAC, junk', async () => {
  const sessions = await ConsoleSessions.open(new MemoryJournal().clusterSecrets, new ManualClock());
  const { keys } = keyring();
  const { token } = sessions.signIn(keys, 'AKIA1', 'secret-1') ?? assert.fail('signed in');
  const [v, payload, mac] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  const forge = (change: Record<string, unknown>) => `${v}.${Buffer.from(JSON.stringify({ ...claims, ...change })).toString('base64url')}.${mac}`;
  assert.equal(sessions.verify(keys, forge({ a: '222222222222' })), undefined, 'another account');
  assert.equal(sessions.verify(keys, forge({ k: 'AKIA2', a: '222222222222' })), undefined, 'another key');
  assert.equal(sessions.verify(keys, forge({ e: Number(claims.e) + 1e9 })), undefined, 'a later expiry');
  const flipped = `${mac.slice(0, -2)}${mac.endsWith('AA') ? 'AB' : 'AA'}`;
  assert.equal(sessions.verify(keys, `${v}.${payload}.${flipped}`), undefined, 'a changed MAC');
  assert.equal(sessions.verify(keys, `${v}.${payload}.${spareBitsSet(mac)}`), undefined, 'a MAC changed only in bits a base64url decoder drops');
  for (const junk of [undefined, '', 'v1', 'v1..', `v2.${payload}.${mac}`, `${token}.x`, 'v1.!!!.???']) assert.equal(sessions.verify(keys, junk), undefined, String(junk));
  assert.ok(sessions.verify(keys, token), 'the real token still verifies');
});

test('a deleted or rotated key ends its sessions; another installation secret does not verify them', async () => {
  const journal = new MemoryJournal();
  const clock = new ManualClock();
  const sessions = await ConsoleSessions.open(journal.clusterSecrets, clock);
  const { keys, table } = keyring();
  const one = sessions.signIn(keys, 'AKIA1', 'secret-1') ?? assert.fail('signed in');
  const two = sessions.signIn(keys, 'AKIA2', 'secret-2') ?? assert.fail('signed in');
  const again = await ConsoleSessions.open(journal.clusterSecrets, clock);
  assert.ok(again.verify(keys, one.token), 'a second frontend (or a restart) over the same journal verifies it');
  const elsewhere = await ConsoleSessions.open(new MemoryJournal().clusterSecrets, clock);
  assert.equal(elsewhere.verify(keys, one.token), undefined, 'another installation does not');
  table.delete('AKIA1');
  assert.equal(sessions.verify(keys, one.token), undefined, 'deleted key');
  table.set('AKIA2', { secretAccessKey: 'rotated', accountId: '222222222222' });
  assert.equal(sessions.verify(keys, two.token), undefined, 'the key secret changed');
});
