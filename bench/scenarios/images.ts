/**
 * Scenario 6 — container images: a cold start that mounts the image lazily (only the chunks the
 * function reads are fetched) against a full pull + extract of the same image; the bytes a cold
 * start fetches against the image's size; and the share of a second image (same base) that the
 * chunk store already holds. Realistic image (Debian minbase + Node.js, ~300 MB) and a 1 GB one
 * (the same plus 800 MiB the function never reads).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { flattenLayers } from '../../src/images/flatten.js';
import { parseImageUri } from '../../src/images/image-uri.js';
import { RegistryClient } from '../../src/images/registry-client.js';
import { startRegistry } from '../../test/helpers/oci.js';
import { startStratus, type StratusProcess } from '../../test/helpers/stratus.js';
import { ROLE } from '../functions.js';
import { CLEAN_ENV, log, onCleanup, tempDir, timeCommand } from '../harness.js';
import { benchImages } from '../images-setup.js';
import { check, ms, rotate, Series, x, type Scenario } from '../scenario.js';
import { ratio } from '../stats.js';
import { STRATUS_ARGS } from '../targets.js';

const SPEEDUP_TARGET = 5;
const FETCH_TARGET = 0.1;
const REUSE_TARGET = 0.9;

async function bytesIn(dir: string): Promise<{ files: number; bytes: number }> {
  const out = { files: 0, bytes: 0 };
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = await bytesIn(path);
      out.files += inner.files;
      out.bytes += inner.bytes;
    } else if (!entry.name.startsWith('.')) {
      out.files++;
      out.bytes += (await stat(path)).size;
    }
  }
  return out;
}

/** A Stratus on a kept data directory (restarted between cold starts with an emptied worker cache). */
async function stratusOn(dataDir: string): Promise<StratusProcess> {
  const proc = await startStratus({ dataDir, args: [...STRATUS_ARGS, '--log-level', 'warn'] });
  onCleanup(() => proc.stop());
  return proc;
}

/** A cold start on a worker that has none of the image's chunks: restart, empty cache, invoke. */
async function lazyColdStart(dataDir: string, fn: string): Promise<{ e2e: number; fetched: number }> {
  await rm(join(dataDir, 'worker'), { recursive: true, force: true });
  const proc = await stratusOn(dataDir);
  try {
    const t0 = performance.now();
    const out = await proc.lambda.send(new InvokeCommand({ FunctionName: fn, Payload: Buffer.from('{}') }));
    const e2e = performance.now() - t0;
    if (out.FunctionError) throw new Error(`${fn}: ${Buffer.from(out.Payload ?? []).toString()}`);
    return { e2e, fetched: (await bytesIn(join(dataDir, 'worker', 'chunks'))).bytes };
  } finally {
    await proc.stop();
  }
}

/** The baseline: pull every layer, extract them (whiteouts applied) and start the function's node on the tree. */
async function fullPullColdStart(uri: string, scratch: string): Promise<number> {
  const work = join(scratch, randomUUID());
  const rootfs = join(work, 'rootfs');
  await mkdir(rootfs, { recursive: true });
  try {
    const t0 = performance.now();
    const ref = parseImageUri(uri);
    const client = new RegistryClient({ plainHttpRegistries: ['127.0.0.1'], platform: { os: 'linux', architecture: 'amd64' } });
    const manifest = await client.manifest(ref);
    const files: string[] = [];
    for (const [i, layer] of manifest.layers.entries()) {
      files.push(join(work, `layer-${i}`));
      await client.blobToFile(ref, layer, files[i] ?? '');
    }
    await flattenLayers(files, rootfs, work, { maxUncompressedBytes: 20 * 2 ** 30, uri, bwrapPath: '/usr/bin/bwrap' });
    const code = "const m = await import('/var/task/index.mjs'); console.log(JSON.stringify(await m.handler({})));";
    await timeCommand('/usr/bin/bwrap', ['--bind', rootfs, '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--chdir', '/var/task',
      '/usr/bin/node', '--input-type=module', '-e', code], { env: CLEAN_ENV });
    return performance.now() - t0;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export const images: Scenario = {
  id: 'images',
  title: '8. Container images',
  standalone: true,
  async run(ctx) {
    const layout = await benchImages();
    const registry = await startRegistry();
    onCleanup(() => registry.stop());
    const uris = {
      app: await layout.push('app', registry, 'bench/node:app'),
      app2: await layout.push('app2', registry, 'bench/node:app2'),
      padded: await layout.push('padded', registry, 'bench/node:padded'),
    };
    const dataDir = await tempDir('images-data');
    const manifests = join(dataDir, 'code', 'images');
    const proc = await stratusOn(dataDir);
    const imported: Record<string, { ms: number; added: number; addedBytes: number }> = {};
    for (const [fn, uri] of [['app', uris.app], ['padded', uris.padded], ['app2', uris.app2]] as const) {
      const before = await bytesIn(join(dataDir, 'code', 'chunks'));
      const t0 = performance.now();
      await proc.lambda.send(new CreateFunctionCommand({ FunctionName: fn, Role: ROLE, PackageType: 'Image', Code: { ImageUri: uri }, MemorySize: 512 }));
      const took = performance.now() - t0;
      const after = await bytesIn(join(dataDir, 'code', 'chunks'));
      imported[fn] = { ms: took, added: after.files - before.files, addedBytes: after.bytes - before.bytes };
      log(`images: ${fn} imported in ${(took / 1000).toFixed(1)} s, ${after.files - before.files} new chunks`);
    }
    await proc.stop();
    const sizes = await imageSizes(manifests);
    const rounds = ctx.quick ? 1 : Math.min(ctx.rounds, 3);
    const s = { lazyApp: new Series(), fullApp: new Series(), lazyPadded: new Series(), fullPadded: new Series(), fetchedApp: new Series(), fetchedPadded: new Series() };
    const steps: Record<string, (r: number) => Promise<void>> = {
      lazyApp: async (r) => {
        const c = await lazyColdStart(dataDir, 'app');
        s.lazyApp.add(r, c.e2e);
        s.fetchedApp.add(r, c.fetched / 2 ** 20);
      },
      lazyPadded: async (r) => {
        const c = await lazyColdStart(dataDir, 'padded');
        s.lazyPadded.add(r, c.e2e);
        s.fetchedPadded.add(r, c.fetched / 2 ** 20);
      },
      fullApp: async (r) => s.fullApp.add(r, await fullPullColdStart(uris.app, ctx.scratch)),
      fullPadded: async (r) => s.fullPadded.add(r, await fullPullColdStart(uris.padded, ctx.scratch)),
    };
    for (let round = 0; round < rounds; round++) for (const k of rotate(Object.keys(steps), round)) await steps[k]?.(round);
    return report(s, imported, sizes);
  },
};

/** Sizes (bytes) of the stored images, largest first: padded, then app and app2 (same size within a few chunks). */
async function imageSizes(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir(dir)) out.push((JSON.parse(await readFile(join(dir, name), 'utf8')) as { size: number }).size);
  return out.sort((a, b) => b - a);
}

function report(
  s: Record<'lazyApp' | 'fullApp' | 'lazyPadded' | 'fullPadded' | 'fetchedApp' | 'fetchedPadded', Series>,
  imported: Record<string, { ms: number; added: number; addedBytes: number }>,
  sizes: number[],
) {
  const med = (series: Series) => series.summary().median;
  const [paddedSize = NaN, appSize = NaN] = sizes;
  const speedup = ratio(med(s.fullPadded), med(s.lazyPadded));
  const speedupApp = ratio(med(s.fullApp), med(s.lazyApp));
  const fetchedShare = (med(s.fetchedPadded) * 2 ** 20) / paddedSize;
  const fetchedShareApp = (med(s.fetchedApp) * 2 ** 20) / appSize;
  const app2 = imported.app2 ?? { ms: NaN, added: NaN, addedBytes: NaN };
  const reuse = 1 - app2.addedBytes / appSize;
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  return {
    method: [
      'Images built once with umoci from debootstrap --variant=minbase bookworm + Node.js + Stratus\'s runtime client (cached in .cache/images/), pushed with skopeo to a docker-registry on loopback, created with PackageType Image.',
      'Lazy cold start: Stratus restarted with its worker chunk cache emptied (the code store keeps the chunks), then one invoke, timed end to end through the Lambda API.',
      'Full pull + extract: every layer pulled from the same registry (digests checked), extracted with whiteouts into a fresh directory, then node started on that tree in bwrap running the same handler.',
      'Bytes fetched: the worker\'s chunk cache after the cold start (whole 512 KiB chunks, prefetch included).',
    ],
    tables: [
      { title: 'Cold start: lazy vs full pull + extract', rows: [
        s.lazyApp.row(`lazy, realistic image (${mb(appSize)})`, 'end to end', 'ms'),
        s.fullApp.row(`full pull + extract, realistic image`, 'pull + extract + node start', 'ms'),
        s.lazyPadded.row(`lazy, 1 GB image (${mb(paddedSize)})`, 'end to end', 'ms'),
        s.fullPadded.row('full pull + extract, 1 GB image', 'pull + extract + node start', 'ms'),
        s.fetchedApp.row('fetched on a cold start, realistic image', 'chunk bytes', 'MiB'),
        s.fetchedPadded.row('fetched on a cold start, 1 GB image', 'chunk bytes', 'MiB'),
      ] },
      { title: 'Import (create-function) and deduplication', rows: [], plain: {
        header: ['Image', 'create-function (pull, flatten, EROFS, chunk)', 'New chunks stored', 'New bytes'],
        cells: Object.entries(imported).map(([name, i]) => [name, ms(i.ms), String(i.added), mb(i.addedBytes)]),
      } },
    ],
    checks: [
      check('8. images', `1 GB image: lazy cold start ≥ ${SPEEDUP_TARGET}x faster than full pull + extract`, `${x(speedup)} (${ms(med(s.lazyPadded))} vs ${ms(med(s.fullPadded))}); realistic image ${x(speedupApp)}`, speedup >= SPEEDUP_TARGET),
      check('8. images', `bytes fetched on a cold start ≤ ${FETCH_TARGET * 100}% of the image (1 GB image)`, `${(fetchedShare * 100).toFixed(1)}% (${med(s.fetchedPadded).toFixed(0)} of ${mb(paddedSize)}); realistic image ${(fetchedShareApp * 100).toFixed(1)}%`, fetchedShare <= FETCH_TARGET),
      check('8. images', `a second image on the same base reuses ≥ ${REUSE_TARGET * 100}% of its bytes`, `${(reuse * 100).toFixed(1)}% (${app2.added} new chunks, ${mb(app2.addedBytes)} of ${mb(appSize)})`, reuse >= REUSE_TARGET),
    ],
    notes: [],
  };
}
