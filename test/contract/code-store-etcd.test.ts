import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdCodeStore } from '../../src/codestore/index.js';
import { ManualClock } from '../../src/shared/clock.js';
import { freshPrefix, useEtcdCluster } from '../helpers/etcd.js';
import { runCodeStoreContract } from './code-store.contract.js';

const cluster = useEtcdCluster({ members: 3 });

runCodeStoreContract('EtcdCodeStore', async (clock) => {
  const store = new EtcdCodeStore({ endpoints: cluster().endpoints, prefix: freshPrefix('code') }, clock);
  return { store, cleanup: async () => store.close() };
});

it('EtcdCodeStore: the parts of an upload cut short (a frontend killed before the header) are listed from its marker and collected', async () => {
  const clock = new ManualClock();
  const prefix = freshPrefix('code');
  const store = new EtcdCodeStore({ endpoints: cluster().endpoints, prefix }, clock);
  const etcd = new Etcd3({ hosts: cluster().endpoints });
  try {
    const sha = 'ab'.repeat(32);
    await etcd.put(`${prefix}code/${sha}.upload`).value(String(clock.now()));
    await etcd.put(`${prefix}code/${sha}/000000`).value(Buffer.alloc(1024, 1));
    assert.deepEqual(await store.list(), [{ sha256: sha, size: 0, lastPutMs: clock.now() }]);
    assert.equal(await store.has({ sha256: sha, size: 1024 }), false, 'not a stored package');
    assert.equal(await store.deleteIfPutBefore(sha, clock.now()), false, 'an upload that began then may still be running');
    clock.advance(1);
    assert.equal(await store.deleteIfPutBefore(sha, clock.now()), true);
    assert.deepEqual(await etcd.getAll().prefix(`${prefix}code/`).keys(), []);
    const done = await store.put(Buffer.from('a complete upload leaves no marker'));
    assert.deepEqual((await etcd.getAll().prefix(`${prefix}code/`).keys()).sort(), [`${prefix}code/${done.sha256}`, `${prefix}code/${done.sha256}/000000`]);
  } finally {
    etcd.close();
    store.close();
  }
});

it('EtcdCodeStore: a header without a last-put time (written by an older version) is listed with an unknown one, never as put long ago', async () => {
  const clock = new ManualClock();
  const prefix = freshPrefix('code');
  const store = new EtcdCodeStore({ endpoints: cluster().endpoints, prefix }, clock);
  const etcd = new Etcd3({ hosts: cluster().endpoints });
  try {
    const ref = await store.put(Buffer.from('stored by an older version'));
    await etcd.put(`${prefix}code/${ref.sha256}`).value(JSON.stringify({ size: ref.size, chunks: 1 }));
    assert.deepEqual(await store.list(), [{ sha256: ref.sha256, size: ref.size, lastPutMs: undefined }]);
    await store.put(Buffer.from('stored by an older version'));
    assert.deepEqual(await store.list(), [{ sha256: ref.sha256, size: ref.size, lastPutMs: clock.now() }], 'a put gives it one');
  } finally {
    etcd.close();
    store.close();
  }
});
