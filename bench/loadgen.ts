/**
 * Fallback load generator when wrk is not installed: N keep-alive connections in a closed loop
 * for a fixed time, in its own process so it does not share an event loop with anything else.
 *   node dist/bench/loadgen.js '<LoadSpec as JSON>'   → prints a LoadResult as JSON
 */
import { Agent, request } from 'node:http';
import type { LoadResult, LoadSpec } from './load.js';
import { percentile } from './stats.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
const url = new URL(spec.url);
const agent = new Agent({ keepAlive: true, maxSockets: spec.connections });
const latencies: number[] = [];
let errors = 0;
const started = process.hrtime.bigint();
const deadline = started + BigInt(Math.round(spec.durationS * 1e9));

function once(): Promise<void> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = request(
      { agent, host: url.hostname, port: Number(url.port), path: url.pathname, method: 'POST', headers: spec.headers },
      (res) => {
        res.resume();
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 400 || res.headers['x-amz-function-error']) errors++;
          else latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          resolve();
        });
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => (errors++, resolve()));
    req.end(spec.body);
  });
}

async function connection(): Promise<void> {
  while (process.hrtime.bigint() < deadline) await once();
}

await Promise.all(Array.from({ length: spec.connections }, () => connection()));
const durationS = Number(process.hrtime.bigint() - started) / 1e9;
const result: LoadResult = {
  requests: latencies.length + errors,
  durationS,
  rps: latencies.length / durationS,
  errors,
  p50Ms: percentile(latencies, 50),
  p90Ms: percentile(latencies, 90),
  p99Ms: percentile(latencies, 99),
};
agent.destroy();
process.stdout.write(`${JSON.stringify(result)}\n`);
