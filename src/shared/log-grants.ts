import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * What lets a worker in another process write function logs: for each environment it is given,
 * the assignment service hands it a grant for that function's account and log group, an HMAC
 * under a secret of the installation that only the control plane holds, bound to the worker's
 * id. The log ingest route stores a worker's batch only under a grant made for that worker, so a
 * worker (or whoever took it over) cannot write into the logs of a function it does not run.
 */
export class LogGrants {
  constructor(private readonly secret: Buffer) {}

  grant(workerId: string, accountId: string, group: string): string {
    return createHmac('sha256', this.secret).update(`log-grant\n${workerId}\n${accountId}\n${group}`).digest('base64url');
  }

  allows(grant: string | undefined, workerId: string, accountId: string, group: string): boolean {
    if (grant === undefined) return false;
    const expected = Buffer.from(this.grant(workerId, accountId, group));
    const given = Buffer.from(grant);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
