import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { WorkerProvider } from '../../src/placement/index.js';

export interface ProviderFixture {
  provider: WorkerProvider;
  /** Whether worker `id` runs now (as its substrate sees it: a process, a VM, a node). */
  running(id: string): Promise<boolean>;
  /** Whether anything made for worker `id` is left (addresses, namespaces, directories, cgroups). */
  leftovers(id: string): Promise<string[]>;
  /** Whether anything the provider made is left once it is closed. */
  leftoversAfterClose(): Promise<string[]>;
}

/**
 * What every WorkerProvider must do, for placement and the FleetScaler to rely on it. A provider
 * that cannot scale (`static`) refuses start and stop and lists nothing; one that can starts
 * workers in the zone asked, lists exactly those it started and has not stopped, removes
 * everything made for a worker on stop, and everything on close.
 */
export function runWorkerProviderContract(name: string, make: () => Promise<ProviderFixture>, opts: { skip?: string } = {}): void {
  describe(`WorkerProvider contract: ${name}`, { skip: opts.skip }, () => {
    const fixtures: ProviderFixture[] = [];
    const open = async () => {
      const f = await make();
      fixtures.push(f);
      return f;
    };
    after(async () => {
      for (const f of fixtures) await f.provider.close();
    });

    it('starts workers in the zone asked and lists exactly those it has not stopped', async (t) => {
      const f = await open();
      if (!f.provider.canScale) {
        await assert.rejects(f.provider.start({ zone: 'a' }), /cannot start/);
        await assert.rejects(f.provider.stop('w'), /cannot stop/);
        assert.deepEqual(f.provider.list(), []);
        t.diagnostic('cannot scale: start and stop are refused');
        return;
      }
      const a = await f.provider.start({ zone: 'zone-a' });
      const b = await f.provider.start({ zone: 'zone-b' });
      assert.notEqual(a.id, b.id);
      assert.deepEqual(f.provider.list().map((w) => [w.id, w.zone]).sort(), [[a.id, 'zone-a'], [b.id, 'zone-b']].sort());
      assert.ok(await f.running(a.id));
      assert.ok(await f.running(b.id));
      await f.provider.stop(a.id);
      assert.deepEqual(f.provider.list().map((w) => w.id), [b.id]);
      assert.equal(await f.running(a.id), false);
      assert.deepEqual(await f.leftovers(a.id), []);
      assert.ok(await f.running(b.id), 'stopping one worker leaves the others');
      await assert.rejects(f.provider.stop(a.id), /did not start/);
    });

    it('removes everything it made on close', async () => {
      const f = await open();
      const started = f.provider.canScale ? [await f.provider.start({ zone: 'zone-a' }), await f.provider.start({ zone: 'zone-a' })] : [];
      for (const w of started) assert.ok(await f.running(w.id));
      await f.provider.close();
      assert.deepEqual(f.provider.list(), []);
      for (const w of started) {
        assert.equal(await f.running(w.id), false);
        assert.deepEqual(await f.leftovers(w.id), []);
      }
      assert.deepEqual(await f.leftoversAfterClose(), []);
    });
  });
}
