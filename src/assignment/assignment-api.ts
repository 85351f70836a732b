import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FunctionVersion } from '../registry/index.js';
import { bearerMatches } from '../shared/bearer.js';
import { isStratusError } from '../shared/errors.js';
import { closeNow, listenOn, readBody, replyJson } from '../shared/http.js';
import type { Logger } from '../shared/log.js';
import type { AssignmentService } from './assignment.js';

export const ASSIGNMENT_API = '/_stratus/assignment/v1';

/** What an acquire answers: the environment and where its worker serves. */
export interface GrantWire {
  envId: string;
  workerId: string;
  workerUrl: string;
  cold: boolean;
  epoch?: number;
}

export interface AssignmentApiDeps {
  /** The service while this replica leads; undefined otherwise (requests get NotLeader). */
  leader(): AssignmentService | undefined;
  workerUrl(workerId: string): string | undefined;
  /** What GET /status shows (the replica's role, for operators and tests). */
  status(): unknown;
  token: string;
  log: Logger;
}

const STATUS: Record<string, number> = { NotLeader: 503, TooManyRequests: 429, JournalUnavailable: 503, Fenced: 503 };

/**
 * The assignment replica's API for frontends in other processes: acquire and release
 * environments, and provisioned counts. It only translates HTTP into AssignmentService calls.
 */
export class AssignmentApiServer {
  private readonly server: Server;

  constructor(private readonly deps: AssignmentApiDeps) {
    this.server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => void this.route(req, res));
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return listenOn(this.server, host, port);
  }

  close(): Promise<void> {
    return closeNow(this.server);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!bearerMatches(req.headers.authorization, this.deps.token)) return replyJson(res, 401, { code: 'Unauthorized', message: 'bad cluster token' });
    try {
      if (req.method === 'GET' && req.url === `${ASSIGNMENT_API}/status`) return replyJson(res, 200, this.deps.status());
      const service = this.deps.leader();
      if (!service) return replyJson(res, 503, { code: 'NotLeader', message: 'This assignment replica is not the leader.' });
      const body = JSON.parse((await readBody(req, 1024 * 1024))?.toString() || '{}') as Record<string, unknown>;
      switch (`${req.method} ${req.url}`) {
        case `POST ${ASSIGNMENT_API}/acquire`: {
          const lease = await service.acquire(body.fn as FunctionVersion);
          const workerUrl = this.deps.workerUrl(lease.worker.id);
          if (!workerUrl) {
            service.release(lease, false);
            return replyJson(res, 503, { code: 'WorkerUnavailable', message: `worker ${lease.worker.id} has left` });
          }
          return replyJson(res, 200, { envId: lease.envId, workerId: lease.worker.id, workerUrl, cold: lease.cold, epoch: lease.epoch } satisfies GrantWire);
        }
        case `POST ${ASSIGNMENT_API}/release`:
          service.release({ envId: String(body.envId) }, body.reusable === true);
          return replyJson(res, 204);
        case `POST ${ASSIGNMENT_API}/provisioned-count`:
          return replyJson(res, 200, { count: service.provisionedCount(body.fn as FunctionVersion) });
        default:
          return replyJson(res, 404, { code: 'NotFound', message: `${req.method} ${req.url}` });
      }
    } catch (err) {
      const code = isStratusError(err) ? err.code : 'Internal';
      if (code === 'Internal') this.deps.log.warn({ err }, 'assignment API request failed');
      replyJson(res, STATUS[code] ?? 500, { code, message: err instanceof Error ? err.message : String(err), details: isStratusError(err) ? err.details : {} });
    }
  }
}

