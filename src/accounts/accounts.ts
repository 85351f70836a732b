import { randomBytes, randomInt } from 'node:crypto';
import type { DocumentStore, StoredDocument } from '../journal/index.js';
import type { Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';

/** A tenant: what an AWS account is to Lambda. Its functions, quotas and keys are its own. */
export interface Account {
  accountId: string;
  name: string;
  /** The first account: the only one that may manage accounts. */
  admin: boolean;
  /** Quotas of this account; an absent one is the installation's default. */
  quotas: Partial<AccountQuotas>;
  createdMs: number;
}

/** What an account may use: concurrent executions, functions, and bytes of code (all versions). */
export interface AccountQuotas {
  concurrency: number;
  maxFunctions: number;
  totalCodeBytes: number;
}

/** A SigV4 key pair; the secret stays in the journal because SigV4 verification needs it. */
export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
  createdMs: number;
}

/** What a signature check needs of a key: its secret and whose it is. */
export interface KeyOwner {
  secretAccessKey: string;
  accountId: string;
}

export interface AccountDirectoryDeps {
  accounts: DocumentStore;
  keys: DocumentStore;
  clock: Clock;
  /** Quotas of an account that does not set its own. */
  defaultQuotas: AccountQuotas;
  /** Uniform random 12-digit ids (injected so tests can collide them). */
  newAccountId?: () => string;
}

const ACCOUNT_ID = /^\d{12}$/;
const NAME = /^[a-zA-Z0-9+=,.@_ -]{1,64}$/;

/**
 * The installation's accounts and their access keys, in the journal and mirrored in memory so
 * that a request's signature check never waits on it. Every change is journaled first.
 */
export class AccountDirectory {
  private readonly accounts = new Map<string, Account>();
  private readonly keys = new Map<string, AccessKey>();
  private readonly created: ((account: Account) => void)[] = [];

  constructor(private readonly deps: AccountDirectoryDeps) {}

  async load(): Promise<void> {
    for (const doc of await this.deps.accounts.list()) this.mirrorAccount(doc.key, doc);
    for (const doc of await this.deps.keys.list()) this.mirrorKey(doc.key, doc);
  }

  /** Keeps this copy coherent with changes other processes make. Call before load(). */
  async follow(): Promise<() => void> {
    const stops = await Promise.all([
      this.deps.accounts.watch((key, doc) => this.mirrorAccount(key, doc)),
      this.deps.keys.watch((key, doc) => this.mirrorKey(key, doc)),
    ]);
    return () => stops.forEach((stop) => stop());
  }

  /** Told of each account as this process first learns of it (created here, loaded or followed). */
  onAccount(listener: (account: Account) => void): void {
    this.created.push(listener);
    for (const account of this.accounts.values()) listener(account);
  }

  /**
   * The first start: the administrative account with `key`, unless an administrator exists
   * already (then `key` is left alone: a key the administrator deleted stays deleted). Another
   * process of a cluster may win the race; its account is the one kept.
   */
  async bootstrap(accountId: string, key: { accessKeyId: string; secretAccessKey: string }): Promise<Account> {
    const existing = this.administrator();
    if (existing) return existing;
    // The key first: a start cut short between the two writes leaves a key of an account that
    // does not exist yet (unusable), and the next start completes it.
    const stored: AccessKey = { ...key, accountId, createdMs: this.deps.clock.now() };
    await this.deps.keys.create(key.accessKeyId, stored, randomRevision());
    const account: Account = { accountId, name: 'admin', admin: true, quotas: {}, createdMs: this.deps.clock.now() };
    await this.deps.accounts.create(accountId, account, randomRevision());
    // Whichever process won either write, the journal's copies are the ones kept.
    this.mirrorKey(key.accessKeyId, await this.deps.keys.get(key.accessKeyId));
    this.mirrorAccount(accountId, await this.deps.accounts.get(accountId));
    const admin = this.administrator();
    if (!admin) throw new StratusError('Internal', `account ${accountId} exists but is not the administrator`);
    return admin;
  }

  administrator(): Account | undefined {
    for (const account of this.accounts.values()) if (account.admin) return account;
    return undefined;
  }

  get(accountId: string): Account | undefined {
    return this.accounts.get(accountId);
  }

  list(): Account[] {
    return [...this.accounts.values()].sort((a, b) => a.createdMs - b.createdMs || (a.accountId < b.accountId ? -1 : 1));
  }

  /** The owner of an access key (a signature check on every request). */
  keyOwner(accessKeyId: string): KeyOwner | undefined {
    const key = this.keys.get(accessKeyId);
    return key && this.accounts.has(key.accountId) ? key : undefined;
  }

  keysOf(accountId: string): AccessKey[] {
    return [...this.keys.values()].filter((k) => k.accountId === accountId).sort((a, b) => a.createdMs - b.createdMs);
  }

  /** An account's quotas: its own, else the installation's defaults. */
  quotasOf(accountId: string): AccountQuotas {
    return { ...this.deps.defaultQuotas, ...this.accounts.get(accountId)?.quotas };
  }

  /** A new account with a generated id and its first key. */
  async create(name: string, quotas: Partial<AccountQuotas> = {}): Promise<{ account: Account; key: AccessKey }> {
    if (!NAME.test(name)) throw new StratusError('Validation', `Account name '${name}' must be 1-64 characters of letters, digits, spaces and +=,.@_-`);
    if ([...this.accounts.values()].some((a) => a.name === name)) throw new StratusError('ResourceConflict', `An account named ${name} already exists.`);
    for (const [quota, value] of Object.entries(quotas)) {
      if (!Number.isSafeInteger(value) || value < 1) throw new StratusError('Validation', `Quota ${quota} must be a positive integer, got ${value}.`);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const accountId = (this.deps.newAccountId ?? randomAccountId)();
      const account: Account = { accountId, name, admin: false, quotas, createdMs: this.deps.clock.now() };
      if (!ACCOUNT_ID.test(accountId) || !(await this.deps.accounts.create(accountId, account, randomRevision()))) continue;
      this.accounts.set(accountId, account);
      this.announce(account);
      return { account, key: await this.createKey(accountId) };
    }
    throw new StratusError('Internal', 'no free account id was found');
  }

  /** Deletes an account that owns nothing any more (`owns` says whether it still has functions). */
  async delete(accountId: string, owns: (accountId: string) => number): Promise<void> {
    const account = this.require(accountId);
    if (account.admin) throw new StratusError('InvalidParameterValue', 'The administrative account cannot be deleted.');
    const functions = owns(accountId);
    if (functions > 0) throw new StratusError('ResourceConflict', `Account ${accountId} still has ${functions} function(s); delete them first.`);
    for (const key of this.keysOf(accountId)) await this.deleteKey(accountId, key.accessKeyId);
    // A request signed before its keys went may have created a function meanwhile: then the
    // account stays (without keys, so nothing more arrives) until its functions are gone.
    const late = owns(accountId);
    if (late > 0) {
      throw new StratusError('ResourceConflict', `Account ${accountId} gained ${late} function(s) while it was being deleted; its keys are revoked. Create a key, delete them, then delete the account.`);
    }
    await this.deps.accounts.delete(accountId);
    this.accounts.delete(accountId);
  }

  async createKey(accountId: string): Promise<AccessKey> {
    this.require(accountId);
    const key: AccessKey = {
      accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64url'),
      accountId,
      createdMs: this.deps.clock.now(),
    };
    await this.storeKey(key);
    return key;
  }

  /** Revokes a key at once. The administrator keeps at least one (else nobody could manage accounts). */
  async deleteKey(accountId: string, accessKeyId: string): Promise<void> {
    const account = this.require(accountId);
    const key = this.keys.get(accessKeyId);
    if (!key || key.accountId !== accountId) throw new StratusError('ResourceNotFound', `Access key ${accessKeyId} of account ${accountId} not found.`);
    if (account.admin && this.keysOf(accountId).length === 1) {
      throw new StratusError('InvalidParameterValue', 'The last access key of the administrative account cannot be deleted.');
    }
    await this.deps.keys.delete(accessKeyId);
    this.keys.delete(accessKeyId);
  }

  private require(accountId: string): Account {
    const account = this.accounts.get(accountId);
    if (!account) throw new StratusError('ResourceNotFound', `Account ${accountId} not found.`);
    return account;
  }

  private async storeKey(key: AccessKey): Promise<void> {
    if (!(await this.deps.keys.create(key.accessKeyId, key, randomRevision()))) {
      throw new StratusError('ResourceConflict', `Access key ${key.accessKeyId} exists already.`);
    }
    this.keys.set(key.accessKeyId, key);
  }

  private mirrorAccount(accountId: string, doc: StoredDocument | undefined): void {
    if (!doc) {
      this.accounts.delete(accountId);
      return;
    }
    const known = this.accounts.has(accountId);
    const account = doc.value as Account;
    this.accounts.set(accountId, account);
    if (!known) this.announce(account);
  }

  private mirrorKey(accessKeyId: string, doc: StoredDocument | undefined): void {
    if (doc) this.keys.set(accessKeyId, doc.value as AccessKey);
    else this.keys.delete(accessKeyId);
  }

  private announce(account: Account): void {
    for (const listener of this.created) listener(account);
  }
}

function randomAccountId(): string {
  return String(randomInt(1, 1_000_000)).padStart(6, '0') + String(randomInt(0, 1_000_000)).padStart(6, '0');
}

function randomRevision(): string {
  return randomBytes(8).toString('hex');
}
