// The peer tier of the image chunk cache, with real `stratus worker` processes of one zone: an
// image function run on worker A, then on worker B: B's chunks come from A, not the code store.
// A compromised peer (its cached chunks overwritten on disk) sends chunks that do not match their
// sha256: worker C refuses them, fetches them from the code store and runs the function unharmed.
// A worker's peer route admits only the peer keys of the workers placement lists in its zone
// (not the control plane's key, not a stranger's, not a revoked worker's) and only serves what it holds.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { SqliteJournal } from '../../src/journal/index.js';
import { loadClusterSecrets, workerApiCredential, workerPeerKey, type ClusterSecrets } from '../../src/placement/index.js';
import { InternalClient } from '../../src/shared/internal-client.js';
import { workerServerName } from '../../src/shared/tls.js';
import { ImageLayout, NODE_ENTRYPOINT, nodeBaseFiles, startRegistry, type LocalRegistry } from '../helpers/oci.js';
import { parseExposition, Scrape } from '../helpers/prometheus.js';
import { startStratus, startWorker, workersCommand, type StratusProcess, type WorkerProcess } from '../helpers/stratus.js';
import { until } from '../helpers/wait.js';

const HANDLER = "export const handler = async () => { await new Promise((r) => setTimeout(r, 1500)); return { ran: 'image' }; };";

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) out.push(...(await files(join(dir, e.name))));
    else out.push(join(dir, e.name));
  }
  return out;
}

describe('the peer chunk tier between workers of one zone', () => {
  let registry: LocalRegistry;
  let layout: ImageLayout;
  let s: StratusProcess;
  let dir: string;
  const workers: WorkerProcess[] = [];
  const addWorker = async (id: string) => {
    const w = await startWorker(s, { id, memoryMb: 512, dataDir: join(dir, id), args: ['--zone', 'zone-p', '--metrics-port', '0'] });
    workers.push(w);
    return w;
  };
  const scrape = async (w: WorkerProcess) => {
    const url = /Metrics \(Prometheus\) on (\S+)/.exec(w.output())?.[1];
    assert.ok(url, `worker ${w.id} printed its metrics URL`);
    const m = new Scrape(await parseExposition(await (await fetch(url)).text()));
    const tier = (name: string, t: string) => m.value(name, { worker: w.id, tier: t });
    return {
      peerHits: tier('stratus_chunk_fetches_total', 'peer'), storeFetches: tier('stratus_chunk_fetches_total', 'store'),
      peerBytes: tier('stratus_chunk_fetched_bytes_total', 'peer'), storeBytes: tier('stratus_chunk_fetched_bytes_total', 'store'),
      rejected: m.value('stratus_chunk_peer_rejected_total', { worker: w.id }), servedBytes: m.value('stratus_chunk_served_to_peers_bytes_total', { worker: w.id }),
    };
  };
  /** `n` concurrent invokes: with every worker's one environment taken, the last one is a cold start on the newest worker. */
  const invokeConcurrently = async (n: number) => {
    const outs = await Promise.all(Array.from({ length: n }, () => s.lambda.send(new InvokeCommand({ FunctionName: 'peer-img', Payload: Buffer.from('{}') }))));
    for (const out of outs) assert.deepEqual([out.FunctionError, JSON.parse(Buffer.from(out.Payload ?? []).toString())], [undefined, { ran: 'image' }]);
  };

  before(async () => {
    registry = await startRegistry();
    layout = await ImageLayout.create();
    await layout.build('v1', {
      files: { ...(await nodeBaseFiles()), '/var/task/index.mjs': HANDLER }, entrypoint: NODE_ENTRYPOINT, cmd: ['index.handler'], env: ['PATH=/usr/bin:/bin'], workingDir: '/var/task',
    });
    const uri = await layout.push('v1', registry, 'stratus/peers:v1');
    dir = await mkdtemp(join(tmpdir(), 'stratus-peer-chunks-'));
    // The in-process worker is too small for the function; each remote worker holds one environment of it.
    s = await startStratus({ args: ['--worker-memory-mb', '128'] });
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'peer-img', Role: 'arn:aws:iam::123456789012:role/r', PackageType: 'Image', Code: { ImageUri: uri }, MemorySize: 512,
    }));
  });
  after(async () => {
    for (const w of workers) await w.stop();
    await s?.stop();
    await registry?.stop();
    await layout?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('worker B fetches the chunks worker A holds from A, not from the code store', async () => {
    const a = await addWorker('peer-a');
    await invokeConcurrently(1);
    const onA = await scrape(a);
    assert.ok(onA.storeFetches > 0 && onA.peerHits === 0, `A, alone in its zone, fetched from the store: ${JSON.stringify(onA)}`);
    // B's first heartbeat (before it says it is serving) was answered with A as its zone peer.
    const b = await addWorker('peer-b');
    await invokeConcurrently(2);
    const onB = await scrape(b);
    assert.ok(onB.peerHits > 0 && onB.peerBytes > 0, `B's chunks came from A: ${JSON.stringify(onB)}`);
    assert.ok(onB.peerBytes > onB.storeBytes, `most of B's chunk bytes came from its peer: ${JSON.stringify(onB)}`);
    assert.equal(onB.rejected, 0);
    assert.equal((await scrape(a)).servedBytes, onB.peerBytes, 'A served what B took from it');
    process.stdout.write(`# chunk bytes for worker B: ${onB.peerBytes} from its peer, ${onB.storeBytes} from the store\n`);
  });

  test('chunks from a compromised peer that do not match their sha256 are refused and fetched from the store', async () => {
    // Every chunk A and B hold is overwritten (same size, other bytes): what they send their peers now is poison.
    for (const id of ['peer-a', 'peer-b']) {
      for (const f of await files(join(dir, id, 'worker', 'chunks'))) await writeFile(f, Buffer.alloc((await readFile(f)).length, 0x41));
    }
    const c = await addWorker('peer-c');
    await invokeConcurrently(3);
    const onC = await scrape(c);
    assert.ok(onC.rejected > 0, `C refused the poisoned chunks: ${JSON.stringify(onC)}`);
    assert.equal(onC.peerHits, 0, 'no poisoned chunk was taken');
    assert.ok(onC.storeFetches > 0, 'C fetched them from the code store');
    for (const f of await files(join(dir, 'peer-c', 'worker', 'chunks'))) {
      assert.ok(!(await readFile(f)).every((x) => x === 0x41), `${f} in C's cache is not poison`);
    }
  });

  test('a worker serves chunks only to the workers of its zone, by their own peer key, and only chunks it holds', async () => {
    const journal = new SqliteJournal(join(s.dataDir, 'journal.db'));
    let secrets: ClusterSecrets;
    try {
      secrets = await loadClusterSecrets(journal.clusterSecrets, Date.now());
    } finally {
      await journal.close();
    }
    const a = workers.find((w) => w.id === 'peer-a');
    assert.ok(a);
    const held = (await files(join(dir, 'peer-a', 'worker', 'chunks')))[0] ?? '';
    const [account = '', sha = ''] = held.split('/').slice(-2);
    const clients: InternalClient[] = [];
    const ask = async (authorization: string, path = `${account}/${sha}`) => {
      const c = new InternalClient({ authorization, ca: secrets.ca.certPem });
      clients.push(c);
      return (await c.exchange(`${a.url}/worker/v1/peer/chunks/${path}`, workerServerName('peer-a'), { method: 'GET' })).status;
    };
    try {
      const peerB = `Bearer ${workerPeerKey(secrets, 'peer-b')}`;
      assert.equal(await ask(peerB), 200, 'a worker of the zone, with its own key');
      assert.equal(await ask(peerB, `${account}/${'0'.repeat(64)}`), 404, 'a chunk A does not hold is not fetched for the asker');
      assert.equal(await ask(peerB, `${account === '111111111111' ? '222222222222' : '111111111111'}/${sha}`), 404, "another account's copy is not A's to give");
      assert.equal(await ask('Bearer nobody'), 401);
      assert.equal(await ask(workerApiCredential(secrets, 'peer-a').authorization), 401, "the control plane's key for A's API is no peer key");
      assert.equal(await ask(`Bearer ${workerPeerKey(secrets, 'peer-elsewhere')}`), 401, 'a key of a worker placement does not list in the zone');
      const status = new InternalClient({ authorization: peerB, ca: secrets.ca.certPem });
      clients.push(status);
      assert.equal((await status.exchange(`${a.url}/worker/v1/status`, workerServerName('peer-a'), { method: 'GET' })).status, 401, 'a peer key opens no other route');
      // Revoked: placement drops B at once, and A refuses B's key from its next heartbeat on.
      assert.match(await workersCommand(s, 'revoke', '--id', 'peer-b'), /revoked/);
      await until(async () => (await ask(peerB)) === 401, "A to refuse revoked B's key", 15_000);
    } finally {
      for (const c of clients) c.close();
    }
  });
});
