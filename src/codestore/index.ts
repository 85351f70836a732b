export type { CodeRef, CodeStore } from './code-store.js';
export { FilesystemCodeStore } from './fs-code-store.js';
export { MemoryCodeStore } from './memory-code-store.js';
export { inspectZip, extractZip, type ZipLimits, type ZipSummary } from './zip.js';
export { EtcdCodeStore, type EtcdCodeStoreOptions } from './etcd-code-store.js';
export { EtcdChunkStore, type EtcdChunkStoreOptions } from './etcd-chunk-store.js';
export { CHUNK_SIZE, CHUNK_NAME, IMAGE_DIGEST, type ChunkStore, type ChunkPutResult, type ImageManifest, type ImageRunConfig } from './chunk-store.js';
export { FilesystemChunkStore } from './fs-chunk-store.js';
export { MemoryChunkStore } from './memory-chunk-store.js';
