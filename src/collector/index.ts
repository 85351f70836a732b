/** Code garbage collection: what no document of any account refers to leaves the code and chunk stores. */
export { CodeCollector, type CodeCollectorDeps, type SweepResult } from './code-collector.js';
export { markReferences, type ReferenceCollections, type References, type ReferenceSources } from './references.js';
