import { readFileSync } from 'node:fs';
import { ConsecutiveBreaker, circuitBreaker, handleWhen, noop, retry } from 'cockatiel';
import {
  Etcd3, GRPCUnavailableError, type ICompare, type IOperation, type IOptions, type ITxnResponse, type Namespace, type WatchBuilder, type Watcher,
} from 'etcd3';
import { StratusError, isStratusError } from './errors.js';

/** How Stratus talks to etcd: which members, and how long one request may take. */
export interface EtcdConnection {
  /** Client URLs of the etcd members, e.g. http://127.0.0.1:2379. */
  endpoints: string[];
  /**
   * Deadline of each unary call. Without one, a write during a raft re-election (or without
   * quorum) waits ~7 s for etcd's own timeout; with it, it fails fast as JournalUnavailable.
   */
  callTimeoutMs?: number;
  /** etcd over TLS (https:// endpoints): the CA that issued the members' certificates, and this client's own (client-cert-auth). */
  tls?: EtcdTls;
}

/** Files (PEM) of an etcd connection over TLS. See docs/cluster-security.md. */
export interface EtcdTls {
  caFile: string;
  certFile?: string;
  keyFile?: string;
}

export const defaultCallTimeoutMs = 1500;

/**
 * An etcd3 client with a deadline on every unary call (streams run unbounded) and fault
 * handling that retries an unavailable member on another one; a deadline is not retried,
 * because the write may have committed. (A member killed after committing is unavailable too:
 * a retried conditional write may then meet its own result, see EtcdDocumentStore.committed.)
 */
export function createEtcdClient(conn: EtcdConnection, opts: { singleMember?: boolean } = {}): Etcd3 {
  const timeoutMs = conn.callTimeoutMs ?? defaultCallTimeoutMs;
  const unavailable = handleWhen((e) => e instanceof GRPCUnavailableError);
  const options: IOptions = {
    hosts: conn.endpoints,
    ...(conn.tls ? { credentials: etcdCredentials(conn.tls) } : {}),
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    dialTimeout: timeoutMs,
    faultHandling: opts.singleMember
      ? { host: () => noop, global: noop }
      : {
          host: () => circuitBreaker(unavailable, { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
          global: retry(unavailable, { maxAttempts: Math.max(0, conn.endpoints.length - 1) }),
        },
  };
  return new Etcd3(options);
}

/** The etcd3 client's TLS material, read from its files. */
function etcdCredentials(tls: EtcdTls): NonNullable<IOptions['credentials']> {
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) throw new StratusError('InvalidConfig', 'an etcd client certificate needs its key (--etcd-cert with --etcd-key)');
  return {
    rootCertificate: readFileSync(tls.caFile),
    ...(tls.certFile && tls.keyFile ? { certChain: readFileSync(tls.certFile), privateKey: readFileSync(tls.keyFile) } : {}),
  };
}

/** Runs one etcd operation; any failure of etcd itself becomes StratusError 'JournalUnavailable'. */
export async function etcdCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    if (isStratusError(cause)) throw cause;
    throw new StratusError('JournalUnavailable', `etcd ${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Starts a watch and resolves once etcd confirmed it (events then follow from the next
 * revision), or rejects with JournalUnavailable after `timeoutMs`.
 */
export function startWatch(builder: WatchBuilder, timeoutMs: number): Promise<Watcher> {
  const watcher = builder.watcher();
  return new Promise((resolve, reject) => {
    const fail = (cause: unknown) => {
      clearTimeout(timer);
      watcher.off('connected', ok);
      void watcher.cancel().catch(() => undefined);
      reject(new StratusError('JournalUnavailable', 'etcd watch could not be started', { cause }));
    };
    const ok = () => {
      clearTimeout(timer);
      watcher.off('error', fail);
      watcher.on('error', () => undefined);
      resolve(watcher);
    };
    const timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    watcher.once('connected', ok);
    watcher.once('error', fail);
  });
}

/**
 * A watch that outlives etcd cancelling it: etcd cancels a watcher that comes back from a cut
 * connection after the history it missed was compacted. `start` starts a watcher with its
 * listeners on (with `catchingUp`, after handing them what changed while none was watching);
 * a cancelled one is replaced that way, retried with back-off until etcd answers. Resolves the
 * function that stops it.
 */
export async function resumableWatch(start: (catchingUp: boolean) => Promise<Watcher>): Promise<() => void> {
  let stopped = false;
  let current: Watcher | undefined;
  const follow = async (catchingUp: boolean): Promise<void> => {
    const watcher = await start(catchingUp);
    if (stopped) return void watcher.cancel().catch(() => undefined);
    current = watcher;
    watcher.on('error', () => {
      if (stopped || current !== watcher) return;
      current = undefined;
      void watcher.cancel().catch(() => undefined);
      void (async () => {
        for (let delayMs = 100; !stopped; delayMs = Math.min(delayMs * 2, 5_000)) {
          try {
            return await follow(true);
          } catch {
            await new Promise((resolve) => setTimeout(resolve, delayMs));
          }
        }
      })();
    });
  };
  await follow(false);
  return () => {
    stopped = true;
    void current?.cancel().catch(() => undefined);
  };
}

/** A transaction under `ns` (an empty `compare` always succeeds), with deadline and error mapping. */
export async function commitTxn(
  what: string, ns: Namespace, compare: ICompare[], success: IOperation[], failure: IOperation[] = [],
): Promise<ITxnResponse> {
  const [ok, otherwise] = await Promise.all([Promise.all(success.map((o) => o.op())), Promise.all(failure.map((o) => o.op()))]);
  return etcdCall(what, () => ns.kv.txn({ compare, success: ok, failure: otherwise }));
}

/** `key` as etcd stores it under `ns` (for raw comparisons). */
export function keyIn(ns: Namespace, key: string): Buffer {
  return Buffer.concat([ns.prefix, Buffer.from(key)]);
}

/** A comparison that holds while `key` (under `ns`) is the one created at `createRevision`. */
export function createdAt(ns: Namespace, key: string, createRevision: number): ICompare {
  return { key: keyIn(ns, key), target: 'Create', result: 'Equal', create_revision: createRevision };
}
