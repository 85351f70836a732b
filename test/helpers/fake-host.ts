/**
 * Stands in for `stratus worker` under a WorkerProvider's contract: takes the same flags, and
 * serves on --host at port 8080 (every host has its own port space, so each can): GET / answers
 * which worker it is; GET /cgroup its /proc/self/cgroup; GET /peer?url=U fetches U from this host.
 */
import { readFileSync } from 'node:fs';
import { createServer, get } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ args: process.argv.slice(3), options: { host: { type: 'string' }, credentials: { type: 'string' } }, strict: false });
const bundle = JSON.parse(readFileSync(String(values.credentials), 'utf8')) as { workerId: string };
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/cgroup') return res.end(readFileSync('/proc/self/cgroup', 'utf8'));
  if (url.pathname === '/peer') {
    get(url.searchParams.get('url') ?? '', { timeout: 3000 }, (r) => r.pipe(res)).on('error', (err) => (res.statusCode = 502, res.end(String(err))));
    return undefined;
  }
  return res.end(bundle.workerId);
});
server.listen(8080, String(values.host), () => process.stdout.write(`fake host ${bundle.workerId} is serving on http://${String(values.host)}:8080\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
