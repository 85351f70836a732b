import { CLUSTER_API } from '../shared/cluster-api.js';
import { StratusError } from '../shared/errors.js';
import type { ImageManifest } from './chunk-store.js';
import type { CodeRef } from './code-store.js';

/**
 * A remote worker's view of the code store (the worker's `CodeSource`): packages, image chunks
 * and image manifests fetched from the control plane's download routes (`download-routes.ts`).
 */
export class HttpCodeSource {
  constructor(private readonly controlPlane: string, private readonly token: string) {}

  async get(ref: CodeRef): Promise<Buffer> {
    const res = await fetch(`${this.controlPlane}${CLUSTER_API}/code/${ref.sha256}?size=${ref.size}`, { headers: { authorization: `Bearer ${this.token}` } });
    if (!res.ok) throw new StratusError('ResourceNotFound', `code package ${ref.sha256}: HTTP ${res.status} from the control plane`);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (bytes.length !== ref.size) throw new StratusError('Internal', `code package ${ref.sha256} arrived truncated`);
    return bytes;
  }

  async getChunk(sha256: string): Promise<Buffer> {
    const res = await fetch(`${this.controlPlane}${CLUSTER_API}/chunks/${sha256}`, { headers: { authorization: `Bearer ${this.token}` } });
    if (!res.ok) throw new StratusError('ResourceNotFound', `image chunk ${sha256}: HTTP ${res.status} from the control plane`);
    return Buffer.from(await res.arrayBuffer());
  }

  async getImage(digest: string): Promise<ImageManifest | undefined> {
    const res = await fetch(`${this.controlPlane}${CLUSTER_API}/images/${digest}`, { headers: { authorization: `Bearer ${this.token}` } });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new StratusError('Internal', `image ${digest}: HTTP ${res.status} from the control plane`);
    return (await res.json()) as ImageManifest;
  }
}
