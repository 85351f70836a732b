import { z } from 'zod';
import type { LogStore } from '../journal/index.js';
import type { Clock } from '../shared/clock.js';
import { CLUSTER_API, refusalResponse, withCaller, type AuthenticateAsync } from '../shared/cluster-api.js';
import { isStratusError, StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { LogGrants } from '../shared/log-grants.js';
import { jsonBody, type HttpRoute } from '../shared/http-server.js';
import { logBatchSchema, SETTLED_BATCHES, type LogBatch, type ShipLogs } from '../worker/index.js';

/** The largest body of batches a worker sends at once. */
const MAX_INGEST_BYTES = 16 * 1024 * 1024;

/**
 * Stores workers' batches of function logs, each event with the time it was stored. A batch the
 * store refuses for good (an event it cannot hold) is dropped, with a line in the platform's own
 * log, so one stream's bad event never holds up the others; so is a batch refused because the
 * data disk is full (counted by `onDiskFull`: logs never wait for, nor take, the room kept for
 * deletes). Anything else is thrown, and the worker ships the batches again, all but those
 * the error's `SETTLED_BATCHES` detail names (stored or dropped before the failure).
 */
export function storeLogs(store: LogStore, clock: Clock, log: Logger, onDiskFull?: (droppedEvents: number) => void): ShipLogs {
  // One call for the whole shipment (on SQLite, one transaction), each batch answered on its own.
  // Only what the answers need is kept while the store works, not the events.
  return (batches: LogBatch[]) => {
    const sent = batches.map((b) => ({ accountId: b.accountId, group: b.group, stream: b.stream, events: b.events.length }));
    return store.appendAll(batches, clock.now()).then((answers) => {
      let again: Error | undefined;
      const settled: number[] = [];
      answers.forEach((err, i) => {
        const b = sent[i]!;
        if (err !== undefined && !(isStratusError(err) && err.code === 'DiskFull') && (!isStratusError(err) || err.retryable)) {
          again ??= err;
          return;
        }
        settled.push(i);
        if (err === undefined) return;
        if (isStratusError(err) && err.code === 'DiskFull') onDiskFull?.(b.events);
        else log.warn({ err, account: b.accountId, group: b.group, stream: b.stream, events: b.events }, 'function log events refused by the store: dropped');
      });
      if (!again) return;
      if (settled.length === 0) throw again;
      // Some batches were stored (or dropped) before the failure (etcd appends one by one): the
      // worker is told which, so that it ships only the others again, not duplicates.
      throw new StratusError(isStratusError(again) ? again.code : 'ServiceUnavailable', (again as Error).message, {
        cause: again, details: { ...(isStratusError(again) ? again.details : {}), [SETTLED_BATCHES]: settled.join(',') },
      });
    });
  };
}

/**
 * The control plane's route for function logs from workers in other processes (a worker's
 * `LogShipper` posts to it): only a worker's own credential may post, the batches are checked
 * against their wire shape, and each must carry the grant its worker was given for its account
 * and group (with an environment of that function), before anything is stored.
 */
export function logIngestRoutes(deps: { authenticate: AuthenticateAsync; ship: ShipLogs; grants: LogGrants }): HttpRoute[] {
  return [{
    method: 'POST', pattern: new RegExp(`^${CLUSTER_API.replaceAll('/', '\\/')}/logs$`), body: MAX_INGEST_BYTES,
    handle: withCaller(deps.authenticate, async (req, caller) => {
      if (caller.kind === 'control-plane') return refusalResponse({ refused: 403, message: 'function logs come from workers' });
      const parsed = z.array(logBatchSchema).max(10_000).safeParse(jsonBody(req));
      if (!parsed.success) throw new StratusError('Validation', `log batches: ${parsed.error.issues[0]?.message ?? 'malformed'}`);
      const stray = parsed.data.find((b) => !deps.grants.allows(b.grant, caller.workerId, b.accountId, b.group));
      if (stray) return refusalResponse({ refused: 403, message: `worker ${caller.workerId} was given no environment logging to ${stray.group} of account ${stray.accountId}` });
      await deps.ship(parsed.data);
      return { status: 204 };
    }),
  }];
}
