/**
 * Container images, stored as 512 KiB chunks named by their sha256 and shared by every image
 * (an image that shares base layers with another adds only its new chunks), plus one small
 * manifest per image digest that lists its chunks in order.
 */
import type { StoredBlob } from './code-store.js';

export const CHUNK_SIZE = 512 * 1024;

/** What an image's entry point runs with, from the image's own config (OCI `config`). */
export interface ImageRunConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
}

/** One image as the worker mounts it: a read-only EROFS filesystem cut into chunks. */
export interface ImageManifest {
  /** The OCI manifest digest the image was pulled by, `sha256:<hex>`. */
  digest: string;
  /** Bytes of the flattened filesystem image; every chunk but the last is CHUNK_SIZE. */
  size: number;
  chunkSize: number;
  /** sha256 (hex) of each chunk, in order. */
  chunks: string[];
  config: ImageRunConfig;
}

export interface ChunkPutResult {
  sha256: string;
  /** false when the chunk was already stored (deduplicated). */
  added: boolean;
}

/** An image manifest as the garbage collector sees it. */
export interface StoredImage {
  digest: string;
  chunks: string[];
  /** Wall-clock ms (the store's Clock) of its last `putImage` or `touchImage`; undefined if unknown (as `StoredBlob.lastPutMs`). */
  lastPutMs: number | undefined;
}

export interface ChunkStore {
  /** Stores a chunk under its sha256 (idempotent; a chunk already stored gets a new last-put time). */
  putChunk(bytes: Buffer): Promise<ChunkPutResult>;
  /** A stored chunk; rejects with ResourceNotFound if absent. */
  getChunk(sha256: string): Promise<Buffer>;
  hasChunk(sha256: string): Promise<boolean>;
  /** Stores an image's manifest; call only once all its chunks are stored. */
  putImage(manifest: ImageManifest): Promise<void>;
  /** An image's manifest by digest, or undefined if there is none (a failure to read it rejects). */
  getImage(digest: string): Promise<ImageManifest | undefined>;
  /**
   * Refreshes a stored manifest's last-put time, as reusing it for a new function must (the
   * document naming it is written next); false if it is not stored (import it again then).
   */
  touchImage(digest: string): Promise<boolean>;
  /** Every stored chunk with its size and last-put time; rejects if they cannot all be listed. */
  listChunks(): Promise<StoredBlob[]>;
  /** Every stored image manifest; rejects if one cannot be read (the collector keeps the chunks of those it lists). */
  listImages(): Promise<StoredImage[]>;
  /** Deletes the chunk only if it was last put before `putBeforeMs` (atomically with a concurrent put); resolves whether it did. */
  deleteChunkIfPutBefore(sha256: string, putBeforeMs: number): Promise<boolean>;
  /** Deletes the manifest only if it was last put (or touched) before `putBeforeMs`; resolves whether it did. */
  deleteImageIfPutBefore(digest: string, putBeforeMs: number): Promise<boolean>;
}

export const IMAGE_DIGEST = /^sha256:[0-9a-f]{64}$/;
export const CHUNK_NAME = /^[0-9a-f]{64}$/;
