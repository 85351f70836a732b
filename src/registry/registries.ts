import type { DocumentStore, Journal, StoredDocument } from '../journal/index.js';
import { functionArn } from '../shared/arns.js';
import { FunctionRegistry, type RegistryCollection, type RegistryDeps, type RegistryQuota } from './functions.js';
import type { FunctionRecord, FunctionUrlRecord } from './model.js';
import { addPermission, policyKey } from './policies.js';

const COLLECTIONS: readonly RegistryCollection[] = ['functions', 'versions', 'aliases', 'functionUrls'];

export interface FunctionRegistriesDeps extends Omit<RegistryDeps, 'journal' | 'accountId' | 'quota'> {
  journal: Pick<Journal, RegistryCollection>;
  /** Each account's quotas (read at each check). */
  quotaOf(accountId: string): RegistryQuota;
  /** Each account's code kept outside its functions (its layer versions), counted against its code storage. */
  otherCodeBytesOf?(accountId: string): Promise<number>;
}

/**
 * The registries of every account. Each account's documents live in the same journal
 * collections under the key prefix `<account id>/`, and each account has a registry of its
 * own: a function of one account cannot be named, listed or resolved through another's.
 */
export class FunctionRegistries {
  private readonly byAccount = new Map<string, FunctionRegistry>();
  private readonly listeners: ((registry: FunctionRegistry) => void)[] = [];

  constructor(private readonly deps: FunctionRegistriesDeps) {}

  /** The account's registry (an account without functions has an empty one). */
  for(accountId: string): FunctionRegistry {
    let registry = this.byAccount.get(accountId);
    if (!registry) {
      const prefix = `${accountId}/`;
      const journal = Object.fromEntries(COLLECTIONS.map((c) => [c, scopedStore(this.deps.journal[c], prefix)])) as RegistryDeps['journal'];
      const { quotaOf, otherCodeBytesOf, ...deps } = this.deps;
      registry = new FunctionRegistry({
        ...deps, journal, accountId, quota: () => quotaOf(accountId), ...(otherCodeBytesOf ? { otherCodeBytes: () => otherCodeBytesOf(accountId) } : {}),
      });
      this.byAccount.set(accountId, registry);
      for (const listener of this.listeners) listener(registry);
    }
    return registry;
  }

  /**
   * The registry of an account this process knows, or undefined: for account ids that come from
   * a caller (an ARN, a URL), so that naming made-up accounts cannot grow this map.
   */
  existing(accountId: string): FunctionRegistry | undefined {
    return this.byAccount.get(accountId);
  }

  /** Every account's registry this process knows. */
  all(): FunctionRegistry[] {
    return [...this.byAccount.values()];
  }

  /** Told of each registry, those there now and those to come (to follow their changes). */
  onRegistry(listener: (registry: FunctionRegistry) => void): void {
    this.listeners.push(listener);
    for (const registry of this.byAccount.values()) listener(registry);
  }

  /** Loads every account that has documents in the journal. */
  async load(): Promise<void> {
    const accounts = new Set<string>();
    for (const doc of await this.deps.journal.functions.list()) accounts.add(accountOf(doc.key) ?? '');
    accounts.delete('');
    for (const accountId of accounts) await this.for(accountId).load();
  }

  /** Keeps every account's copy coherent with changes other processes make. Call before load(). */
  async follow(): Promise<() => void> {
    const stops = await Promise.all(COLLECTIONS.map((collection) => this.deps.journal[collection].watch((key, doc) => {
      const accountId = accountOf(key);
      if (accountId) this.for(accountId).mirror(collection, key.slice(accountId.length + 1), doc);
    })));
    return () => stops.forEach((stop) => stop());
  }

  /**
   * Functions journaled before there were accounts (keys without an account prefix) become the
   * administrator's: the one account there was. A NONE function URL of theirs answered anyone
   * then; now the resource policy must grant that, so adoption adds the statement Lambda's
   * console adds (FunctionURLAllowPublicAccess) and the URL keeps answering. Idempotent; a
   * process that loses a race to another doing the same leaves the winner's copy.
   */
  async adoptUnowned(adminAccountId: string): Promise<void> {
    const publicUrls = await this.unownedPublicUrls();
    for (const collection of COLLECTIONS) {
      const store = this.deps.journal[collection];
      for (const doc of await store.list()) {
        if (accountOf(doc.key) !== undefined) continue;
        let value = doc.value;
        if (collection === 'functions' || collection === 'versions') value = { ...(value as object), accountId: adminAccountId };
        if (collection === 'functions') value = withPublicUrls(value as FunctionRecord, publicUrls.get(doc.key) ?? [], this.deps.region, adminAccountId);
        await store.create(`${adminAccountId}/${doc.key}`, value, doc.revision);
        await store.delete(doc.key);
      }
    }
  }

  /** The qualifiers ('' for the function) of each unowned function's NONE URLs. */
  private async unownedPublicUrls(): Promise<Map<string, (string | undefined)[]>> {
    const found = new Map<string, (string | undefined)[]>();
    for (const doc of await this.deps.journal.functionUrls.list()) {
      const url = doc.value as FunctionUrlRecord;
      if (accountOf(doc.key) !== undefined || url.authType !== 'NONE') continue;
      found.set(url.functionName, [...(found.get(url.functionName) ?? []), url.qualifier]);
    }
    return found;
  }
}

/** The statement that lets anyone through the NONE URLs of `qualifiers`, added to each one's policy. */
function withPublicUrls(fn: FunctionRecord, qualifiers: (string | undefined)[], region: string, accountId: string): FunctionRecord {
  let policies = fn.policies ?? {};
  for (const qualifier of qualifiers) {
    const key = policyKey(qualifier);
    if (policies[key]?.statements.some((s) => s.Sid === PUBLIC_URL_STATEMENT)) continue;
    const arn = functionArn(region, accountId, fn.name, qualifier);
    const input = { statementId: PUBLIC_URL_STATEMENT, action: 'lambda:InvokeFunctionUrl', principal: '*', functionUrlAuthType: 'NONE' as const };
    policies = { ...policies, [key]: addPermission(policies[key], input, arn) };
  }
  return qualifiers.length > 0 ? { ...fn, policies } : fn;
}

const PUBLIC_URL_STATEMENT = 'FunctionURLAllowPublicAccess';

function accountOf(key: string): string | undefined {
  return /^(\d{12})\//.exec(key)?.[1];
}

/** One account's view of a collection: its keys without the prefix, nobody else's documents. */
function scopedStore(store: DocumentStore, prefix: string): DocumentStore {
  const inScope = (doc: StoredDocument) => doc.key.startsWith(prefix);
  const unscoped = (doc: StoredDocument): StoredDocument => ({ ...doc, key: doc.key.slice(prefix.length) });
  return {
    get: async (key) => {
      const doc = await store.get(prefix + key);
      return doc && unscoped(doc);
    },
    list: async () => (await store.list()).filter(inScope).map(unscoped),
    create: (key, value, revision) => store.create(prefix + key, value, revision),
    replace: (key, value, revision, expected) => store.replace(prefix + key, value, revision, expected),
    delete: (key) => store.delete(prefix + key),
    watch: (listener) => store.watch((key, doc) => {
      if (key.startsWith(prefix)) listener(key.slice(prefix.length), doc && unscoped(doc));
    }),
  };
}
