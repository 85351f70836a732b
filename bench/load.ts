/**
 * Closed-loop load: N keep-alive connections, each sending the next request as soon as the
 * previous reply arrived, for a fixed time. wrk (C, one thread) when it is installed, so the
 * load generator costs little CPU on a 2-core machine; otherwise a Node load generator in its
 * own process (loadgen.ts). Both replay one pre-signed request (Stratus accepts a signature
 * for 15 minutes and does not reject replays).
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './harness.js';

export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  durationS: number;
}

export interface LoadResult {
  requests: number;
  durationS: number;
  rps: number;
  /** Connection errors, timeouts, non-2xx replies and replies with X-Amz-Function-Error. */
  errors: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

const WRK_CANDIDATES = ['/usr/bin/wrk', '/usr/local/bin/wrk'];
const LOADGEN = fileURLToPath(new URL('./loadgen.js', import.meta.url));

export function loadGenerator(): 'wrk' | 'node' {
  if (process.env['BENCH_LOADGEN'] === 'node') return 'node';
  return WRK_CANDIDATES.some((p) => existsSync(p)) ? 'wrk' : 'node';
}

/** Runs one load measurement; `scratch` is a temp dir for the wrk script. */
export async function runLoad(spec: LoadSpec, scratch: string): Promise<LoadResult> {
  return loadGenerator() === 'wrk' ? runWrk(spec, scratch) : runNode(spec);
}

async function runWrk(spec: LoadSpec, scratch: string): Promise<LoadResult> {
  const wrk = WRK_CANDIDATES.find((p) => existsSync(p)) as string;
  const script = join(scratch, `wrk-${process.pid}-${Date.now()}.lua`);
  // wrk computes content-length itself and sets Host from the URL; both match what was signed.
  const headers = Object.entries(spec.headers)
    .filter(([k]) => !['host', 'content-length'].includes(k.toLowerCase()))
    .map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`);
  await writeFile(
    script,
    [
      'wrk.method = "POST"',
      `wrk.body = ${lua(spec.body)}`,
      ...headers,
      // Function errors come back as HTTP 200 with X-Amz-Function-Error: count them per thread.
      'local threads = {}',
      'function setup(thread) table.insert(threads, thread) end',
      'function init(args) fnerrors = 0 end',
      'function response(status, headers, body)',
      '  if headers["x-amz-function-error"] or headers["X-Amz-Function-Error"] then fnerrors = fnerrors + 1 end',
      'end',
      'done = function(summary, latency, requests)',
      '  local e = summary.errors',
      '  local fe = 0',
      '  for _, t in ipairs(threads) do fe = fe + t:get("fnerrors") end',
      '  io.write(string.format("\\nWRKJSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"errors\\":%d,\\"p50\\":%d,\\"p90\\":%d,\\"p99\\":%d}\\n",',
      '    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout + fe,',
      '    latency:percentile(50), latency:percentile(90), latency:percentile(99)))',
      'end',
      '',
    ].join('\n'),
  );
  const out = await runCommand(wrk, ['-t1', `-c${spec.connections}`, `-d${spec.durationS}s`, '--timeout', '30s', '-s', script, spec.url], {
    timeoutMs: (spec.durationS + 60) * 1000,
  });
  const m = /WRKJSON (\{.*\})/.exec(out);
  if (!m?.[1]) throw new Error(`wrk printed no result:\n${out.slice(-1000)}`);
  const r = JSON.parse(m[1]) as { requests: number; duration_us: number; errors: number; p50: number; p90: number; p99: number };
  const durationS = r.duration_us / 1e6;
  return { requests: r.requests, durationS, rps: r.requests / durationS, errors: r.errors, p50Ms: r.p50 / 1000, p90Ms: r.p90 / 1000, p99Ms: r.p99 / 1000 };
}

async function runNode(spec: LoadSpec): Promise<LoadResult> {
  const out = await runCommand(process.execPath, [LOADGEN, JSON.stringify(spec)], { timeoutMs: (spec.durationS + 60) * 1000 });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as LoadResult;
}

function lua(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}
