import { randomUUID } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_SIZE, storeChunks, withFileReader, type ChunkStore, type ImageManifest, type ImageRunConfig } from '../codestore/index.js';
import type { Logger } from '../shared/log.js';
import { StratusError } from '../shared/errors.js';
import { buildErofs } from './erofs.js';
import { flattenLayers } from './flatten.js';
import { parseImageUri, resolvedUri } from './image-uri.js';
import { RegistryClient, type PulledManifest } from './registry-client.js';

export interface ImageImporterOptions {
  chunks: ChunkStore;
  /** Scratch space for layers and the flattened tree; emptied after each import. */
  workDir: string;
  plainHttpRegistries: readonly string[];
  maxUncompressedBytes: number;
  mkfsErofsPath: string;
  /** bubblewrap, to extract layers in a sandbox. */
  bwrapPath: string;
  log: Logger;
}

/** An image ready to run: its manifest is stored and every chunk it lists is in the chunk store. */
export interface ImportedImage {
  uri: string;
  resolvedUri: string;
  manifest: ImageManifest;
  /** What this import added to the chunk store (0 when every chunk was already there). */
  newChunks: number;
  newBytes: number;
}

/**
 * CreateFunction / UpdateFunctionCode with an ImageUri: pull the manifest and layers, flatten
 * them, build one EROFS image and store it as chunks. Everything is checked (digests, media
 * types, platform, size) before the first chunk is stored, so a refused image leaves nothing.
 */
export class ImageImporter {
  private readonly client: RegistryClient;
  private readonly inflight = new Map<string, Promise<ImportedImage>>();

  constructor(private readonly opts: ImageImporterOptions) {
    this.client = new RegistryClient({ plainHttpRegistries: opts.plainHttpRegistries, platform: { os: 'linux', architecture: 'amd64' } });
  }

  /**
   * Imports `uri` for one CreateFunction / UpdateFunctionCode. The manifest is fetched from the
   * registry every time, even when the image is in the chunk store already: chunks stored for
   * another caller (another account, maybe with access to a repository this one has not) prove
   * nothing about this one, so an image the registry no longer serves, or not to this caller,
   * is refused. Only once the registry has answered are stored chunks reused.
   */
  async import(uri: string): Promise<ImportedImage> {
    const ref = parseImageUri(uri);
    const pulled = await this.client.manifest(ref);
    // Reusing a stored image refreshes its manifest's last-put time: the function's document is
    // written next, and the code collector spares what was put within its grace period.
    const stored = (await this.opts.chunks.touchImage(pulled.digest)) ? await this.opts.chunks.getImage(pulled.digest) : undefined;
    const base = { uri, resolvedUri: resolvedUri(ref, pulled.digest) };
    if (stored) return { ...base, manifest: stored, newChunks: 0, newBytes: 0 };
    let job = this.inflight.get(pulled.digest);
    if (!job) {
      job = this.build(ref, pulled).then((result) => ({ ...base, ...result }));
      this.inflight.set(pulled.digest, job);
      void job.catch(() => {}).finally(() => this.inflight.delete(pulled.digest));
    }
    return job;
  }

  private async build(ref: ReturnType<typeof parseImageUri>, pulled: PulledManifest): Promise<Omit<ImportedImage, 'uri' | 'resolvedUri'>> {
    const compressed = pulled.layers.reduce((sum, l) => sum + l.size, 0);
    if (compressed > this.opts.maxUncompressedBytes) throw this.tooLarge(ref.uri);
    const work = join(this.opts.workDir, randomUUID());
    const rootfs = join(work, 'rootfs');
    await mkdir(rootfs, { recursive: true, mode: 0o755 });
    try {
      const config = runConfig(await this.client.blobBytes(ref, pulled.config), ref.uri);
      const files: string[] = [];
      for (const [i, layer] of pulled.layers.entries()) {
        const file = join(work, `blob-${i}`);
        await this.client.blobToFile(ref, layer, file);
        files.push(file);
      }
      const started = performance.now();
      await flattenLayers(files, rootfs, work, { maxUncompressedBytes: this.opts.maxUncompressedBytes, uri: ref.uri, bwrapPath: this.opts.bwrapPath });
      await Promise.all(files.map((f) => rm(f, { force: true })));
      const image = join(work, 'image.erofs');
      await buildErofs(this.opts.mkfsErofsPath, rootfs, image);
      if ((await stat(image)).size > this.opts.maxUncompressedBytes) throw this.tooLarge(ref.uri);
      const chunked = await withFileReader(image, (reader) => storeChunks(this.opts.chunks, reader));
      const manifest: ImageManifest = { digest: pulled.digest, size: chunked.size, chunkSize: CHUNK_SIZE, chunks: chunked.chunks, config };
      await this.opts.chunks.putImage(manifest);
      this.opts.log.info({ image: ref.uri, digest: pulled.digest, bytes: chunked.size, chunks: chunked.chunks.length, newChunks: chunked.newChunks, ms: Math.round(performance.now() - started) }, 'image imported');
      return { manifest, newChunks: chunked.newChunks, newBytes: chunked.newBytes };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  private tooLarge(uri: string): StratusError {
    return new StratusError('InvalidParameterValue', `Image size must be smaller than ${this.opts.maxUncompressedBytes} bytes uncompressed. The source image ${uri} is larger.`);
  }
}

/** The image's own Entrypoint, Cmd, Env and WorkingDir (OCI image config `config`). */
function runConfig(bytes: Buffer, uri: string): ImageRunConfig {
  let doc: { config?: { Entrypoint?: unknown; Cmd?: unknown; Env?: unknown; WorkingDir?: unknown }; os?: unknown; architecture?: unknown };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch {
    throw new StratusError('InvalidParameterValue', `The image manifest, config or layer media type for the source image ${uri} is not supported.`);
  }
  if ((doc.os !== undefined && doc.os !== 'linux') || (doc.architecture !== undefined && doc.architecture !== 'amd64')) {
    throw new StratusError('InvalidParameterValue', `The source image ${uri} is built for ${String(doc.os)}/${String(doc.architecture)}; the function's architecture x86_64 requires linux/amd64.`);
  }
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const c = doc.config ?? {};
  return { entrypoint: strings(c.Entrypoint), cmd: strings(c.Cmd), env: strings(c.Env), workingDir: typeof c.WorkingDir === 'string' ? c.WorkingDir : '' };
}
