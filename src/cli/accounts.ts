import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import { parseArgs } from 'node:util';
import { ADMIN_API, ERROR_TYPE_HEADER } from '../frontend/index.js';

export const ACCOUNTS_USAGE = `  stratus accounts create --name NAME [--concurrency N] [--max-functions N] [--code-storage-bytes N]
  stratus accounts list
  stratus accounts delete ACCOUNT_ID
  stratus accounts keys create ACCOUNT_ID
  stratus accounts keys delete ACCOUNT_ID ACCESS_KEY_ID
                 (each takes --endpoint-url http://HOST:PORT, default $STRATUS_ENDPOINT or http://127.0.0.1:9001,
                  and signs with the administrator's key: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`;

const OPTIONS = {
  name: { type: 'string' },
  concurrency: { type: 'string' },
  'max-functions': { type: 'string' },
  'code-storage-bytes': { type: 'string' },
  'endpoint-url': { type: 'string' },
} as const;

interface Reply {
  status: number;
  body: unknown;
}

/**
 * `stratus accounts ...`: manages the accounts of a running installation (one machine or a
 * cluster) through its administrative API, signed with SigV4 like any Lambda API call. Prints
 * the answer as JSON; an error goes to stderr as `Type: message` with exit status 1.
 */
export async function accountsCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true });
  const endpoint = (values['endpoint-url'] ?? env.STRATUS_ENDPOINT ?? 'http://127.0.0.1:9001').replace(/\/$/, '');
  const call = signedClient(endpoint, env);
  const [verb, ...rest] = positionals;
  const number = (flag: string | undefined) => (flag === undefined ? undefined : Number(flag));
  let reply: Reply;
  if (verb === 'create') {
    reply = await call('POST', '/accounts', {
      Name: values.name, Concurrency: number(values.concurrency), MaxFunctions: number(values['max-functions']),
      CodeStorageBytes: number(values['code-storage-bytes']),
    });
  } else if (verb === 'list') {
    reply = await call('GET', '/accounts');
  } else if (verb === 'delete' && rest.length === 1) {
    reply = await call('DELETE', `/accounts/${rest[0]}`);
  } else if (verb === 'keys' && rest[0] === 'create' && rest.length === 2) {
    reply = await call('POST', `/accounts/${rest[1]}/keys`);
  } else if (verb === 'keys' && rest[0] === 'delete' && rest.length === 3) {
    reply = await call('DELETE', `/accounts/${rest[1]}/keys/${rest[2]}`);
  } else {
    process.stderr.write(`Usage:\n${ACCOUNTS_USAGE}\n`);
    return 2;
  }
  if (reply.status >= 300) {
    const body = reply.body as Record<string, string> | undefined;
    process.stderr.write(`${body?.__type ?? `HTTP ${reply.status}`}: ${body?.Message ?? body?.message ?? ''}\n`);
    return 1;
  }
  if (reply.body !== undefined) process.stdout.write(`${JSON.stringify(reply.body, null, 2)}\n`);
  return 0;
}

function signedClient(endpoint: string, env: NodeJS.ProcessEnv) {
  const accessKeyId = env.AWS_ACCESS_KEY_ID ?? env.STRATUS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY ?? env.STRATUS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) throw new Error('stratus accounts needs the administrator\'s key in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const signer = new SignatureV4({ service: 'lambda', region, credentials: { accessKeyId, secretAccessKey }, sha256: Sha256 });
  const url = new URL(endpoint);
  return async (method: string, path: string, body?: unknown): Promise<Reply> => {
    const text = body === undefined ? '' : JSON.stringify(body);
    const request = new HttpRequest({
      method, protocol: url.protocol, hostname: url.hostname, port: Number(url.port) || undefined, path: `${ADMIN_API}${path}`,
      headers: { host: url.host, 'content-type': 'application/json' }, body: text,
    });
    const signed = await signer.sign(request);
    const res = await fetch(`${endpoint}${ADMIN_API}${path}`, { method, headers: signed.headers, body: method === 'GET' ? undefined : text });
    const answer = await res.text();
    const type = res.headers.get(ERROR_TYPE_HEADER);
    const parsed = answer === '' ? undefined : (JSON.parse(answer) as Record<string, unknown>);
    return { status: res.status, body: type ? { ...parsed, __type: type } : parsed };
  };
}
