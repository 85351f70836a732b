import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { StratusError } from '../shared/errors.js';
import type { ImageReference } from './image-uri.js';

/** The OCI / Docker v2 media types Stratus understands. */
export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;
const LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar.gzip', 'application/vnd.docker.image.rootfs.diff.tar',
]);
const CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string };
}

export interface PulledManifest {
  /** Digest of the image manifest (for an index: of the platform's manifest). */
  digest: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface RegistryClientOptions {
  /** Registries (host or host:port) spoken to in plain HTTP; all others over HTTPS. */
  plainHttpRegistries: readonly string[];
  /** The platform an image must offer (Lambda: linux/amd64 for x86_64). */
  platform: { os: string; architecture: string };
}

/** Pulls manifests and blobs over the OCI distribution API (anonymous access). */
export class RegistryClient {
  constructor(private readonly opts: RegistryClientOptions) {}

  /** The image manifest for the platform, following an index if the reference names one. */
  async manifest(ref: ImageReference): Promise<PulledManifest> {
    let { body, digest, mediaType } = await this.fetchManifest(ref, ref.reference);
    if (mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList) {
      const entries = (body.manifests ?? []) as Descriptor[];
      const { os, architecture } = this.opts.platform;
      const match = entries.find((m) => m.platform?.os === os && m.platform?.architecture === architecture);
      if (!match) {
        const offered = entries.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(', ');
        throw new StratusError('InvalidParameterValue', `The image manifest for the source image ${ref.uri} has no ${os}/${architecture} platform (it offers ${offered || 'none'}), which the function's architecture x86_64 requires.`);
      }
      ({ body, digest, mediaType } = await this.fetchManifest(ref, match.digest));
    }
    if (mediaType !== MEDIA.ociManifest && mediaType !== MEDIA.dockerManifest) throw unsupported(ref);
    const config = body.config as Descriptor | undefined;
    const layers = (body.layers ?? []) as Descriptor[];
    if (!config || !CONFIG_TYPES.has(config.mediaType) || layers.some((l) => !LAYER_TYPES.has(l.mediaType))) throw unsupported(ref);
    return { digest, config, layers };
  }

  /** A blob's bytes (small ones: the image config), checked against its digest. */
  async blobBytes(ref: ImageReference, desc: Descriptor): Promise<Buffer> {
    const res = await this.get(ref, `blobs/${desc.digest}`, '*/*');
    const bytes = Buffer.from(await res.arrayBuffer());
    if (sha256(bytes) !== desc.digest) throw digestMismatch(ref, desc);
    return bytes;
  }

  /** Streams a blob into `path`, checking its size and digest as it arrives. */
  async blobToFile(ref: ImageReference, desc: Descriptor, path: string): Promise<void> {
    const res = await this.get(ref, `blobs/${desc.digest}`, '*/*');
    if (!res.body) throw digestMismatch(ref, desc);
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        hash.update(chunk);
        done(size > desc.size ? digestMismatch(ref, desc) : null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), tap, createWriteStream(path));
    if (size !== desc.size || `sha256:${hash.digest('hex')}` !== desc.digest) throw digestMismatch(ref, desc);
  }

  private async fetchManifest(ref: ImageReference, reference: string): Promise<{ body: Record<string, unknown>; digest: string; mediaType: string }> {
    const accept = Object.values(MEDIA).join(', ');
    const res = await this.get(ref, `manifests/${reference}`, accept);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = sha256(bytes);
    if (reference.startsWith('sha256:') && digest !== reference) throw digestMismatch(ref, { digest: reference, mediaType: 'manifest', size: bytes.length });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw unsupported(ref);
    }
    const mediaType = typeof body.mediaType === 'string' ? body.mediaType : (res.headers.get('content-type') ?? '').split(';')[0] ?? '';
    return { body, digest, mediaType };
  }

  private async get(ref: ImageReference, path: string, accept: string): Promise<Response> {
    const scheme = this.plainHttp(ref.registry) ? 'http' : 'https';
    let res: Response;
    try {
      res = await fetch(`${scheme}://${ref.registry}/v2/${ref.repository}/${path}`, { headers: { accept } });
    } catch (cause) {
      throw new StratusError('InvalidParameterValue', `Source image ${ref.uri} could not be pulled: the registry ${ref.registry} is unreachable. Provide a valid source image.`, { cause });
    }
    if (res.status === 404) {
      await res.body?.cancel();
      throw new StratusError('InvalidParameterValue', `Source image ${ref.uri} does not exist. Provide a valid source image.`);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new StratusError('InvalidParameterValue', 'Lambda does not have permission to access the ECR image. Check the ECR permissions.');
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new StratusError('InvalidParameterValue', `Source image ${ref.uri} could not be pulled: the registry answered HTTP ${res.status}. Provide a valid source image.`);
    }
    return res;
  }

  private plainHttp(registry: string): boolean {
    const host = registry.replace(/:\d+$/, '');
    return this.opts.plainHttpRegistries.some((r) => r === registry || r === host);
  }
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function unsupported(ref: ImageReference): StratusError {
  return new StratusError('InvalidParameterValue', `The image manifest, config or layer media type for the source image ${ref.uri} is not supported.`);
}

function digestMismatch(ref: ImageReference, desc: Descriptor): StratusError {
  return new StratusError('InvalidParameterValue', `The layer ${desc.digest} of the source image ${ref.uri} does not match its digest. Provide a valid source image.`);
}
