import { CLUSTER_API } from '../shared/cluster-api.js';
import { fromWireError, isStratusError, StratusError } from '../shared/errors.js';
import { parseJson, type InternalClient } from '../shared/internal-client.js';
import { CONTROL_PLANE_NAME } from '../shared/tls.js';
import type { ImageManifest } from './chunk-store.js';
import type { CodeRef } from './code-store.js';

/**
 * A remote worker's view of the code store (the worker's `CodeSource`): packages, image chunks
 * and image manifests fetched from the control plane's download routes (`download-routes.ts`).
 */
export class HttpCodeSource {
  constructor(private readonly controlPlane: string, private readonly client: InternalClient) {}

  async get(ref: CodeRef): Promise<Buffer> {
    const bytes = await this.download(`/code/${ref.sha256}?size=${ref.size}`, `code package ${ref.sha256}`);
    if (bytes.length !== ref.size) throw new StratusError('Internal', `code package ${ref.sha256} arrived truncated`);
    return bytes;
  }

  async getChunk(sha256: string): Promise<Buffer> {
    return this.download(`/chunks/${sha256}`, `image chunk ${sha256}`);
  }

  async getImage(digest: string): Promise<ImageManifest | undefined> {
    try {
      return parseJson(await this.download(`/images/${digest}`, `image ${digest}`)) as ImageManifest;
    } catch (err) {
      if (isStratusError(err) && err.code === 'ResourceNotFound') return undefined;
      throw err;
    }
  }

  /** A successful download's bytes; a refusal is the control plane's error, with what was asked for. */
  private async download(path: string, what: string): Promise<Buffer> {
    const res = await this.client.exchange(`${this.controlPlane}${CLUSTER_API}${path}`, CONTROL_PLANE_NAME, { method: 'GET' });
    if (res.status < 300) return res.body;
    const err = fromWireError(parseJson(res.body), `HTTP ${res.status}`);
    throw new StratusError(err.code, `${what}: ${err.message} (from the control plane)`, { details: { ...err.details } });
  }
}
