import assert from 'node:assert/strict';

import { describe, it } from 'node:test';
import { CHUNK_SIZE, MemoryChunkStore, MemoryCodeStore, type CodeRef } from '../codestore/index.js';
import { MemoryJournal } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
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
    journal, code, chunks, clock, graceMs: GRACE, intervalMs: 3_600_000, debounceMs: 1000, settleMs: 0, log: silentLogger(), ...overrides,
  });
  const stored = async () => new Set((await code.list()).map((b) => b.sha256));
  return { clock, journal, code, chunks, collector, stored };
}

const fnDoc = (accountId: string, name: string, code: CodeRef, extra: object = {}) => ({ accountId, name, code, revisionId: 'r', ...extra });

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
    assert.deepEqual(await stored(), new Set([latest, layer, copied, shared].map((r) => r.sha256)), 'the version and its snapshot went, and the young blob once past grace');
    assert.deepEqual(collector.totals().code, { blobs: 4, bytes: [orphan, v1, snap, young].reduce((n, r) => n + r.size, 0) });
  });

  it('a repeated put of an old blob (an upload of the same bytes) keeps it through the grace period', async () => {
    const { clock, code, collector, stored } = setup();
    const ref = await code.put(Buffer.from('same zip'));
    clock.advance(10 * GRACE);
    await code.put(Buffer.from('same zip'));
    clock.advance(GRACE);
    await collector.sweep();
    assert.deepEqual(await stored(), new Set([ref.sha256]), 'put exactly a grace period ago: kept');
    clock.advance(1);
    await collector.sweep();
    assert.deepEqual(await stored(), new Set());
  });

  it('removes image manifests no function names, and the chunks only they used; shared chunks stay', async () => {
    const { clock, journal, chunks, collector } = setup();
    const chunk = async (fill: number) => (await chunks.putChunk(Buffer.alloc(CHUNK_SIZE, fill))).sha256;
    const [base, onlyA, onlyB, stray] = [await chunk(1), await chunk(2), await chunk(3), await chunk(4)];
    const image = (c: string, list: string[]) => ({ digest: `sha256:${c.repeat(64)}`, size: list.length * CHUNK_SIZE, chunkSize: CHUNK_SIZE, chunks: list, config: { entrypoint: [], cmd: [], env: [], workingDir: '/' } });
    await chunks.putImage(image('a', [base, onlyA]));
    await chunks.putImage(image('b', [base, onlyB]));
    const imageFn = (account: string, name: string, c: string) => fnDoc(account, name, { sha256: c.repeat(64), size: 1 }, { image: { uri: 'u', resolvedUri: 'r', digest: `sha256:${c.repeat(64)}`, config: {} } });
    await journal.functions.create(`${A}/ia`, imageFn(A, 'ia', 'a'), 'r');
    await journal.functions.create(`${B}/ib`, imageFn(B, 'ib', 'b'), 'r');
    clock.advance(GRACE + 1);
    const first = await collector.sweep();
    assert.deepEqual([first?.images, first?.chunks], [0, { blobs: 1, bytes: CHUNK_SIZE }], 'only the chunk no manifest lists');
    await journal.functions.delete(`${A}/ia`);
    await collector.sweep();
    assert.deepEqual((await chunks.listImages()).map((i) => i.digest), [`sha256:${'b'.repeat(64)}`]);
    assert.deepEqual(new Set((await chunks.listChunks()).map((c) => c.sha256)), new Set([base, onlyB]));
    assert.equal(await chunks.hasChunk(stray), false);
  });

  it('sweeps at start, shortly after a document changes, and when deferred blobs leave their grace', async () => {
    const { clock, journal, code, collector, stored } = setup();
    const leftover = await code.put(Buffer.from('a crash left this'));
    const kept = await code.put(Buffer.from('kept'));
    await journal.functions.create(`${A}/f`, fnDoc(A, 'f', kept), 'r');
    clock.advance(GRACE + 1);
    await collector.start();
    await collector.idle();
    assert.equal((await stored()).has(leftover.sha256), false, 'the sweep at start');
    await journal.functions.delete(`${A}/f`);
    clock.advance(999);
    await collector.idle();
    assert.equal((await stored()).has(kept.sha256), true, 'not before the debounce');
    clock.advance(1);
    await collector.idle();
    assert.deepEqual(await stored(), new Set(), 'the debounced sweep after the delete');
    const fresh = await code.put(Buffer.from('replaced right after its upload'));
    await journal.functions.create(`${A}/g`, fnDoc(A, 'g', fresh), 'r');
    await journal.functions.delete(`${A}/g`);
    clock.advance(1000);
    await collector.idle();
    assert.equal((await stored()).has(fresh.sha256), true, 'within its grace');
    clock.advance(GRACE - 1000 + 1);
    await collector.idle();
    assert.deepEqual(await stored(), new Set(), 'collected once past grace, without waiting for the periodic sweep');
    await collector.stop();
  });

  it('a reference copied between the two marks (a layer version deleted as a function takes its copy) is kept', async () => {
    const { clock, journal, code, collector, stored } = setup();
    const layerZip = await code.put(Buffer.from('layer zip'));
    await journal.layers.create(`${A}/lib`, { accountId: A, name: 'lib', lastVersion: 1, versions: { 1: { version: 1, code: layerZip } } }, 'r');
    clock.advance(GRACE + 1);
    const list = journal.functions.list.bind(journal.functions);
    let calls = 0;
    journal.functions.list = async () => {
      const docs = await list();
      if (calls++ === 0) {
        await journal.layers.delete(`${A}/lib`);
        await journal.functions.create(`${B}/user`, fnDoc(B, 'user', await code.put(Buffer.from('own')), { layers: [{ arn: 'arn', code: layerZip, unzippedBytes: 1 }] }), 'r');
      }
      return docs;
    };
    await collector.sweep();
    assert.equal((await stored()).has(layerZip.sha256), true);
  });

  it('deletes nothing while collection is held (a backup copying blobs), and tries again shortly after', async () => {
    let held = true;
    const { clock, code, collector, stored } = setup({ held: async () => held });
    const orphan = await code.put(Buffer.from('unreferenced, but a backup is copying'));
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
    await journal.functions.create(`${A}/broken`, { accountId: A, name: 'broken' }, 'r');
    clock.advance(GRACE + 1);
    assert.equal(await collector.sweep(), undefined);
    assert.deepEqual(await stored(), new Set([orphan.sha256]));
  });
});

