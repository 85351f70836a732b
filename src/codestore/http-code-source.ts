import { CLUSTER_API } from '../shared/cluster-api.js';
import { fromWireError, isStratusError, StratusError } from '../shared/errors.js';
import type { ImageManifest } from './chunk-store.js';
import type { CodeRef } from './code-store.js';

/**
 * A remote worker's view of the code store (the worker's `CodeSource`): packages, image chunks
 * and image manifests fetched from the control plane's download routes (`download-routes.ts`).
 */
export class HttpCodeSource {
  constructor(private readonly controlPlane: string, private readonly token: string) {}

  async get(ref: CodeRef): Promise<Buffer> {
    const res = await this.download(`/code/${ref.sha256}?size=${ref.size}`, `code package ${ref.sha256}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (bytes.length !== ref.size) throw new StratusError('Internal', `code package ${ref.sha256} arrived truncated`);
    return bytes;
  }

  async getChunk(sha256: string): Promise<Buffer> {
    const res = await this.download(`/chunks/${sha256}`, `image chunk ${sha256}`);
    return Buffer.from(await res.arrayBuffer());
  }

  async getImage(digest: string): Promise<ImageManifest | undefined> {
    try {
      return (await (await this.download(`/images/${digest}`, `image ${digest}`)).json()) as ImageManifest;
    } catch (err) {
      if (isStratusError(err) && err.code === 'ResourceNotFound') return undefined;
      throw err;
    }
  }

  /** A successful download's response; a refusal is the control plane's error, with what was asked for. */
  private async download(path: string, what: string): Promise<Response> {
    const res = await fetch(`${this.controlPlane}${CLUSTER_API}${path}`, { headers: { authorization: `Bearer ${this.token}` } });
    if (res.ok) return res;
    const err = fromWireError(await res.json().catch(() => undefined), `HTTP ${res.status}`);
    throw new StratusError(err.code, `${what}: ${err.message} (from the control plane)`, { details: { ...err.details } });
  }
}
