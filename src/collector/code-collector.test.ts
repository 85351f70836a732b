import assert from 'node:assert/strict';

import { describe, it } from 'node:test';
import { CHUNK_SIZE, MemoryChunkStore, MemoryCodeStore, type CodeRef } from '../codestore/index.js';
import { MemoryJournal } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { resolveConfig } from '../shared/config.js';
import { silentLogger } from '../shared/log.js';
import { CodeCollector, type CodeCollectorDeps } from './code-collector.js';

const A = '111111111111';
const B = '222222222222';
const GRACE = 60_000;

function setup(overrides: Partial<CodeCollectorDeps> = {}) {
  const clock = new ManualClock();
  const journal = new MemoryJournal();
  const code = new MemoryCodeStore(clock);
  const chunks = new MemoryChunkStore(clock);
  const collector = new CodeCollector({
    journal, code, chunks, clock, graceMs: GRACE, intervalMs: 3_600_000, debounceMs: 1000, log: silentLogger(), ...overrides,
  });
  const stored = async () => new Set((await code.list()).map((b) => b.sha256));
  return { clock, journal, code, chunks, collector, stored };
}

const fnDoc = (accountId: string, name: string, code: CodeRef, extra: object = {}) => ({ accountId, name, code, revisionId: 'r', ...extra });

const image = (c: string, list: string[]) => ({ digest: `sha256:${c.repeat(64)}`, size: list.length * CHUNK_SIZE, chunkSize: CHUNK_SIZE, chunks: list, config: { entrypoint: [], cmd: [], env: [], workingDir: '/' } });
const imageFn = (account: string, name: string, c: string) => fnDoc(account, name, { sha256: c.repeat(64), size: 1 }, { image: { uri: 'u', resolvedUri: 'r', digest: `sha256:${c.repeat(64)}`, config: {} } });

describe('CodeCollector', () => {
  it('keeps every reference of every account ($LATEST, versions, snapshots, layers and their copies) and removes the rest once past grace', async () => {
    const { clock, journal, code, collector, stored } = setup();
    const put = (text: string) => code.put(Buffer.from(text));
    const [latest, v1, snap, layer, copied, orphan, shared] = await Promise.all(['latest', 'v1', 'snapshot', 'layer', 'copied', 'orphan', 'shared'].map(put));
    assert.ok(latest && v1 && snap && layer && copied && orphan && shared);
    await journal.functions.create(`${A}/f`, fnDoc(A, 'f', latest, { layers: [{ arn: 'arn:l:1', code: copied, unzippedBytes: 1 }] }), 'r');
    await journal.versions.create(`${A}/f:1`, { ...fnDoc(A, 'f', v1), version: '1', snapshot: { status: 'ready', image: snap } }, 'r');
    await journal.layers.create(`${A}/lib`, { accountId: A, name: 'lib', lastVersion: 1, versions: { 1: { version: 1, code: layer } } }, 'r');
    await journal.functions.create(`${B}/g`, fnDoc(B, 'g', shared), 'r');
    await journal.functions.create(`${A}/h`, fnDoc(A, 'h', shared), 'r');
    assert.deepEqual((await collector.sweep())?.deferred, 1, 'the orphan, seen unused for the first time');
    clock.advance(GRACE + 1);
    const young = await put('young, its document not written yet');
    const result = await collector.sweep();
    assert.deepEqual(result?.code, { blobs: 1, bytes: orphan.size });
    assert.equal(result?.deferred, 1);
    assert.deepEqual(await stored(), new Set([latest, v1, snap, layer, copied, shared, young].map((r) => r.sha256)));
    // Account A deletes its function that shares code with B's: B's reference keeps it.
    await journal.functions.delete(`${A}/h`);
    await journal.versions.delete(`${A}/f:1`);
    clock.advance(GRACE + 1);
    await collector.sweep();
    assert.deepEqual(await stored(), new Set([latest, v1, snap, layer, copied, shared].map((r) => r.sha256)), 'the young blob went; the version\'s only now seen unused');
    clock.advance(GRACE + 1);
    await collector.sweep();
    assert.deepEqual(await stored(), new Set([latest, layer, copied, shared].map((r) => r.sha256)), 'the version and its snapshot went once unused for the grace period');
    assert.deepEqual(collector.totals().code, { blobs: 4, bytes: [orphan, v1, snap, young].reduce((n, r) => n + r.size, 0) });
  });

  it('a repeated put of an old blob (an upload of the same bytes) keeps it through the grace period', async () => {
    const { clock, code, collector, stored } = setup();
    const ref = await code.put(Buffer.from('same zip'));
    await collector.sweep();
    clock.advance(10 * GRACE);
    await code.put(Buffer.from('same zip'));
    clock.advance(GRACE);
    await collector.sweep();
    assert.deepEqual(await stored(), new Set([ref.sha256]), 'unused for long, but put exactly a grace period ago: kept');
    clock.advance(1);
    await collector.sweep();
    assert.deepEqual(await stored(), new Set());
  });

  it('a reference in flight between documents (a layer version deleted while a function takes its copy) is kept for the grace period after it was first seen unused', async () => {
    const { clock, journal, code, collector, stored } = setup();
    const layerZip = await code.put(Buffer.from('layer zip, uploaded long ago'));
    await journal.layers.create(`${A}/lib`, { accountId: A, name: 'lib', lastVersion: 1, versions: { 1: { version: 1, code: layerZip } } }, 'r');
    clock.advance(10 * GRACE);
    // CreateFunction read the layer version's zip reference, and is still storing its own code when the layer goes.
    await journal.layers.delete(`${A}/lib`);
    await collector.sweep();
    clock.advance(10_000);
    await collector.sweep();
    assert.equal((await stored()).has(layerZip.sha256), true, 'seconds after the delete, well past any settle time');
    await journal.functions.create(`${B}/user`, fnDoc(B, 'user', await code.put(Buffer.from('own')), { layers: [{ arn: 'arn', code: layerZip, unzippedBytes: 1 }] }), 'r');
    clock.advance(GRACE);
    await collector.sweep();
    assert.equal((await stored()).has(layerZip.sha256), true, 'referenced: its unused time is forgotten');
    await journal.functions.delete(`${B}/user`);
    await collector.sweep();
    clock.advance(GRACE);
    await collector.sweep();
    assert.equal((await stored()).has(layerZip.sha256), true, 'unused again only a grace period ago');
    clock.advance(1);
    await collector.sweep();
    assert.equal((await stored()).has(layerZip.sha256), false);
  });

  it('removes image manifests no function names, then the chunks only they used, each a grace period after it was first seen unused; shared chunks stay', async () => {
    const { clock, journal, chunks, collector } = setup();
    const chunk = async (fill: number) => (await chunks.putChunk(Buffer.alloc(CHUNK_SIZE, fill))).sha256;
    const [base, onlyA, onlyB, stray] = [await chunk(1), await chunk(2), await chunk(3), await chunk(4)];
    await chunks.putImage(image('a', [base, onlyA]));
    await chunks.putImage(image('b', [base, onlyB]));
    await journal.functions.create(`${A}/ia`, imageFn(A, 'ia', 'a'), 'r');
    await journal.functions.create(`${B}/ib`, imageFn(B, 'ib', 'b'), 'r');
    clock.advance(GRACE + 1);
    assert.deepEqual((await collector.sweep())?.chunks, { blobs: 0, bytes: 0 }, 'the stray chunk is first seen unused');
    clock.advance(GRACE + 1);
    const first = await collector.sweep();
    assert.deepEqual([first?.images, first?.chunks], [0, { blobs: 1, bytes: CHUNK_SIZE }], 'only the chunk no manifest lists');
    // Function ia moves off image a: environments and cold starts may still read its chunks.
    await journal.functions.delete(`${A}/ia`);
    await collector.sweep();
    clock.advance(4000);
    await collector.sweep();
    assert.equal((await chunks.getImage(image('a', []).digest))?.chunks.length, 2);
    assert.equal(await chunks.hasChunk(onlyA), true);
    clock.advance(GRACE);
    await collector.sweep();
    const digests = () => chunks.listImages().then((list) => list.map((i) => i.digest));
    assert.deepEqual(await digests(), [image('b', []).digest]);
    assert.equal(await chunks.hasChunk(onlyA), true, 'its chunks are unused from the manifest\'s removal on');
    clock.advance(GRACE + 1);
    await collector.sweep();
    assert.deepEqual(new Set((await chunks.listChunks()).map((c) => c.sha256)), new Set([base, onlyB]));
    assert.equal(await chunks.hasChunk(stray), false);
  });

  it('keeps the chunks of every image a function names even if the manifest listing left it out, and fails the sweep if that manifest cannot be read', async () => {
    const { clock, journal, chunks, collector } = setup();
    const own = (await chunks.putChunk(Buffer.alloc(CHUNK_SIZE, 9))).sha256;
    await chunks.putImage(image('c', [own]));
    await journal.functions.create(`${A}/ic`, imageFn(A, 'ic', 'c'), 'r');
    chunks.listImages = async () => []; // a listing that came back short (a manifest it could not read)
    await collector.sweep();
    clock.advance(GRACE + 1);
    assert.deepEqual((await collector.sweep())?.chunks, { blobs: 0, bytes: 0 });
    assert.equal(await chunks.hasChunk(own), true);
    chunks.getImage = async () => {
      throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
    };
    assert.equal(await collector.sweep(), undefined, 'the sweep failed');
    assert.equal(await chunks.hasChunk(own), true);
  });

  it('a blob whose last-put time is unknown (stored by an older version) goes only once unused for the grace period', async () => {
    const { clock, code, collector, stored } = setup();
    const legacy = await code.put(Buffer.from('stored by a version that kept no put time'));
    const list = code.list.bind(code);
    code.list = async () => (await list()).map((b) => ({ ...b, lastPutMs: undefined }));
    clock.advance(10 * GRACE);
    assert.equal((await collector.sweep())?.deferred, 1);
    clock.advance(GRACE);
    await collector.sweep();
    assert.deepEqual(await stored(), new Set([legacy.sha256]));
    clock.advance(1);
    await collector.sweep();
    assert.deepEqual(await stored(), new Set());
  });

  it('after a (re)start what a killed process left goes a grace period later, by itself; it sweeps shortly after a document changes, and when deferred blobs leave their grace', async () => {
    const { clock, journal, code, collector, stored } = setup();
    const leftover = await code.put(Buffer.from('a crash left this'));
    const kept = await code.put(Buffer.from('kept'));
    await journal.functions.create(`${A}/f`, fnDoc(A, 'f', kept), 'r');
    clock.advance(10 * GRACE);
    await collector.start();
    await collector.idle();
    assert.equal((await stored()).has(leftover.sha256), true, 'the sweep at start only sees it unused (a reference may be in flight)');
    clock.advance(GRACE);
    await collector.idle();
    assert.equal((await stored()).has(leftover.sha256), true);
    clock.advance(1);
    await collector.idle();
    assert.deepEqual(await stored(), new Set([kept.sha256]), 'removed a grace period after start, without waiting for the periodic sweep');
    await journal.functions.delete(`${A}/f`);
    clock.advance(999);
    await collector.idle();
    assert.equal(collector.totals().code.blobs, 1, 'no sweep before the debounce');
    clock.advance(1);
    await collector.idle();
    clock.advance(GRACE);
    await collector.idle();
    assert.deepEqual(await stored(), new Set([kept.sha256]), 'seen unused by the debounced sweep after the delete, a grace period ago');
    clock.advance(1);
    await collector.idle();
    assert.deepEqual(await stored(), new Set(), 'gone once unused for longer');
    const fresh = await code.put(Buffer.from('replaced right after its upload'));
    await journal.functions.create(`${A}/g`, fnDoc(A, 'g', fresh), 'r');
    await journal.functions.delete(`${A}/g`);
    clock.advance(1000);
    await collector.idle();
    clock.advance(GRACE);
    await collector.idle();
    assert.equal((await stored()).has(fresh.sha256), true, 'within the grace period of when it was first seen unused');
    clock.advance(1);
    await collector.idle();
    assert.deepEqual(await stored(), new Set(), 'collected once past grace, without waiting for the periodic sweep');
    await collector.stop();
  });

  it('a start whose watches fail closes those that opened, and can start again', async () => {
    const { journal, collector } = setup();
    let open = 0;
    for (const store of [journal.functions, journal.versions]) {
      const watch = store.watch.bind(store);
      store.watch = async (listener) => {
        const stop = await watch(listener);
        open++;
        return () => (open--, stop());
      };
    }
    const layersWatch = journal.layers.watch.bind(journal.layers);
    journal.layers.watch = () => Promise.reject(new Error('etcd unreachable'));
    await assert.rejects(collector.start(), /etcd unreachable/);
    assert.equal(open, 0, 'no watch left open by the failed start');
    journal.layers.watch = layersWatch;
    await collector.start();
    assert.equal(open, 2);
    await collector.stop();
    assert.equal(open, 0);
  });

  it('deletes nothing while collection is held (a backup copying blobs), and tries again shortly after', async () => {
    let held = true;
    const { clock, code, collector, stored } = setup({ held: async () => held });
    const orphan = await code.put(Buffer.from('unreferenced, but a backup is copying'));
    await collector.sweep();
    clock.advance(GRACE + 1);
    await collector.start();
    await collector.idle();
    assert.deepEqual(await stored(), new Set([orphan.sha256]));
    held = false;
    clock.advance(5000);
    await collector.idle();
    assert.deepEqual(await stored(), new Set(), 'the retry after the hold ended');
    await collector.stop();
  });

  it('a document whose references cannot be read stops the sweep: nothing is deleted', async () => {
    const { clock, journal, code, collector, stored } = setup();
    const orphan = await code.put(Buffer.from('orphan'));
    await collector.sweep();
    await journal.functions.create(`${A}/broken`, { accountId: A, name: 'broken' }, 'r');
    clock.advance(GRACE + 1);
    assert.equal(await collector.sweep(), undefined);
    assert.deepEqual(await stored(), new Set([orphan.sha256]));
  });

  it('refuses a grace period under 1 s (0 would delete an upload before its document is written)', () => {
    for (const graceMs of [0, 999]) assert.throws(() => resolveConfig({ codeCollector: { graceMs } }), /graceMs must be at least 1000 ms/);
    assert.equal(resolveConfig({ codeCollector: { graceMs: 1000 } }).codeCollector.graceMs, 1000);
  });
});
