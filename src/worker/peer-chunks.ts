import { bearerToken, secretMatchesHash } from '../shared/bearer.js';
import type { InternalClient } from '../shared/internal-client.js';
import type { Logger } from '../shared/log.js';
import { workerServerName } from '../shared/tls.js';
import { WORKER_API } from './wire.js';

/** A worker of the same zone, as placement hands it out with each heartbeat's answer. */
export interface ZonePeer {
  id: string;
  /** Its worker API (`https://host:port`). */
  url: string;
  /** The sha256 of the key it presents to its peers (the control plane derives one per worker). */
  keyHash: string;
}

/** Where a peer serves the chunks it holds: `GET <url>/worker/v1/peer/chunks/<accountId>/<sha256>`. */
export const PEER_CHUNKS = '/peer/chunks';

/** How the chunk cache asks peers: the first peer's bytes that `accept` (their digest checked) takes, else undefined. */
export interface PeerChunkSource {
  fetch(accountId: string, sha256: string, accept: (bytes: Buffer, peer: string) => boolean): Promise<Buffer | undefined>;
}

/**
 * A worker's peers in its zone, the second tier of the image chunk cache: a local miss asks them
 * (each with a short timeout, in turn, starting at a peer chosen by the chunk's digest) before the code store. Both directions are authenticated
 * by placement: a worker presents its own peer key, and admits only a key whose hash belongs to a
 * worker placement listed in its zone at the latest heartbeat (a revoked or lost worker drops
 * out). What a peer sends is never trusted: the cache checks each chunk against its sha256.
 */
export class ZonePeers implements PeerChunkSource {
  private peers: ZonePeer[] = [];

  constructor(private readonly self: string, private readonly client: InternalClient, private readonly log: Logger, private readonly timeoutMs = 2000) {}

  update(peers: ZonePeer[]): void {
    this.peers = peers.filter((p) => p.id !== this.self && typeof p.url === 'string' && typeof p.keyHash === 'string');
  }

  list(): ZonePeer[] {
    return [...this.peers];
  }

  /** The zone peer an Authorization header stands for (undefined: none). */
  admit(authorization: string | undefined): string | undefined {
    const token = bearerToken(authorization);
    if (token === undefined) return undefined;
    return this.peers.find((p) => secretMatchesHash(token, p.keyHash))?.id;
  }

  async fetch(accountId: string, sha256: string, accept: (bytes: Buffer, peer: string) => boolean): Promise<Buffer | undefined> {
    // Each chunk starts at another peer (by its digest), so the zone's first peer is not everyone's.
    const start = this.peers.length === 0 ? 0 : Number.parseInt(sha256.slice(0, 8), 16) % this.peers.length;
    for (const peer of [...this.peers.slice(start), ...this.peers.slice(0, start)]) {
      const reply = await this.client.exchange(`${peer.url}${WORKER_API}${PEER_CHUNKS}/${accountId}/${sha256}`, workerServerName(peer.id), { method: 'GET', timeoutMs: this.timeoutMs })
        .catch((err: unknown) => this.log.debug({ err, peer: peer.id }, 'a zone peer did not answer for a chunk'));
      if (reply?.status === 200 && accept(reply.body, peer.id)) return reply.body;
    }
    return undefined;
  }
}
