/**
 * The bench's Lambda client: Invoke requests signed with SigV4 (@smithy/signature-v4, as the
 * AWS SDK signs them) sent over a keep-alive http.Agent. The floor server and the peer get
 * exactly the same request shape; only Stratus checks the signature.
 */
import { Agent, request } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface Target {
  host: string;
  port: number;
  path: string;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export const invokePath = (fn: string) => `/2015-03-31/functions/${encodeURIComponent(fn)}/invocations`;

export class InvokeSigner {
  private readonly signer: SignatureV4;

  constructor(credentials: Credentials, region = 'us-east-1') {
    this.signer = new SignatureV4({ credentials, region, service: 'lambda', sha256: Sha256 });
  }

  /** Headers of a signed Invoke (valid for the verifier's 15-minute window). */
  async headers(target: Target, body: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const signed = await this.signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: target.host,
      port: target.port,
      path: target.path,
      query: {},
      headers: {
        host: `${target.host}:${target.port}`,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        ...extra,
      },
      body,
    });
    return signed.headers as Record<string, string>;
  }
}

/** One HTTP request over `agent`; resolves with the whole reply. */
export function send(agent: Agent, target: Target, headers: Record<string, string>, body: string, timeoutMs = 60_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: target.host, port: target.port, path: target.path, method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A keep-alive client for one target: signs each request, then times only the HTTP exchange. */
export class KeepAliveInvoker {
  readonly agent: Agent;

  constructor(private readonly signer: InvokeSigner, private readonly target: Target, maxSockets = 1) {
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  /** Signs and sends one invoke; `ms` is request start to last byte of the reply. */
  async invoke(body = '{}', extra: Record<string, string> = {}): Promise<Reply & { ms: number }> {
    const headers = await this.signer.headers(this.target, body, extra);
    const t0 = process.hrtime.bigint();
    const reply = await send(this.agent, this.target, headers, body);
    return { ...reply, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Throws unless the reply is a successful invoke (HTTP 200 and no X-Amz-Function-Error). */
export function expectOk(reply: Reply, what: string): void {
  const fnError = reply.headers['x-amz-function-error'];
  if (reply.status !== 200 || fnError) {
    throw new Error(`${what}: HTTP ${reply.status}${fnError ? ` function error ${String(fnError)}` : ''}: ${reply.body.toString().slice(0, 300)}`);
  }
}

/** The REPORT line of a LogType=Tail reply, parsed: Duration and Init Duration in ms. */
export function reportOf(reply: Reply): { durationMs?: number; initDurationMs?: number; restoreDurationMs?: number } {
  const raw = reply.headers['x-amz-log-result'];
  if (typeof raw !== 'string') return {};
  const text = Buffer.from(raw, 'base64').toString('utf8');
  const line = text.split('\n').find((l) => l.startsWith('REPORT')) ?? '';
  const num = (label: string) => {
    const m = new RegExp(`\\t${label}: ([\\d.]+) ms`).exec(`\t${line}`);
    return m?.[1] ? Number(m[1]) : undefined;
  };
  return { durationMs: num('Duration'), initDurationMs: num('Init Duration'), restoreDurationMs: num('Restore Duration') };
}
