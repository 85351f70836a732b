export type { CodeRef, CodeStore } from './code-store.js';
export { FilesystemCodeStore } from './fs-code-store.js';
export { MemoryCodeStore } from './memory-code-store.js';
export { inspectZip, extractZip, type ZipLimits, type ZipSummary } from './zip.js';
export { EtcdCodeStore, type EtcdCodeStoreOptions } from './etcd-code-store.js';
