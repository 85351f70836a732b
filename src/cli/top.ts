import type { Clock } from '../shared/clock.js';
import { forTerminal } from './terminal.js';

const CONSOLE_API = '/_stratus/console/api';
/** Functions whose charts one refresh reads, at most. */
const MAX_FUNCTIONS = 25;

interface Totals { invocations: number; errors: number; throttles: number; coldStarts: number }
/** An environment as the console lists it. */
interface Listed { accountId: string; functionName: string; version: string; state: string; provisioned: boolean; memoryMb: number; ageMs: number }
interface Worker { workerId: string; environments: Listed[]; stems: number | null }

export interface TopOptions {
  endpoint: string;
  key: { accessKeyId: string; secretAccessKey: string };
  clock: Clock;
  intervalMs: number;
  /** One screen, then return (for scripts). */
  once: boolean;
  signal?: AbortSignal;
}

/**
 * `stratus top`: the account's functions with their last minute (invocations, errors,
 * throttles, cold starts) and its live environments per worker, refreshed in the terminal.
 * It reads what the web console reads, signed in to it with the caller's key; the
 * administrative account also sees every account's environments and each worker's stems.
 */
export async function top(o: TopOptions, out: NodeJS.WriteStream): Promise<void> {
  const api = await signIn(o.endpoint, o.key);
  for (;;) {
    const screen = await snapshot(api, o.clock.now());
    out.write(out.isTTY && !o.once ? `\x1b[2J\x1b[H${screen}` : `${screen}\n`);
    if (o.once || o.signal?.aborted) return;
    const stop = await new Promise<boolean>((resolve) => {
      const timer = o.clock.setTimer(o.intervalMs, () => resolve(false));
      o.signal?.addEventListener('abort', () => (timer.cancel(), resolve(true)), { once: true });
    });
    if (stop) return;
  }
}

type Get = (path: string) => Promise<unknown>;

/** Signs in to the console (as its page does) and reads its API with the session. */
async function signIn(endpoint: string, key: TopOptions['key']): Promise<Get & { accountId: string }> {
  const origin = new URL(endpoint).origin;
  const res = await fetch(`${origin}${CONSOLE_API}/login`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-stratus-console': '1', origin }, body: JSON.stringify(key),
  });
  const body = (await res.json().catch(() => ({}))) as { message?: string; accountId?: string };
  if (res.status !== 200) throw new Error(`signing in to ${origin} failed: ${body.message ?? `HTTP ${res.status}`}`);
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const get = async (path: string) => {
    const reply = await fetch(`${origin}${CONSOLE_API}/${path}`, { headers: { cookie } });
    if (reply.status !== 200) throw new Error(`${path}: HTTP ${reply.status}`);
    return reply.json() as Promise<unknown>;
  };
  return Object.assign(get, { accountId: body.accountId ?? '' });
}

async function snapshot(api: Get & { accountId: string }, nowMs: number): Promise<string> {
  const { functions } = (await api('functions')) as { functions: { name: string }[] };
  const { workers } = (await api('environments')) as { workers: Worker[] };
  const shown = functions.slice(0, MAX_FUNCTIONS);
  const lastMinute = await Promise.all(shown.map(async (fn) => {
    const { points } = (await api(`functions/${encodeURIComponent(fn.name)}/charts`)) as { points: (Totals & { t: number })[] };
    return points.filter((p) => p.t > nowMs - 60_000).reduce((sum, p) => ({
      invocations: sum.invocations + p.invocations, errors: sum.errors + p.errors, throttles: sum.throttles + p.throttles, coldStarts: sum.coldStarts + p.coldStarts,
    }), { invocations: 0, errors: 0, throttles: 0, coldStarts: 0 });
  }));
  const envs = workers.flatMap((w) => w.environments.map((e) => ({ worker: w.workerId, ...e })));
  const lines = [`stratus top: account ${api.accountId}, ${new Date(nowMs).toISOString()}`, ''];
  lines.push(...table(['FUNCTION', 'INVOKES/MIN', 'ERRORS', 'THROTTLES', 'COLD STARTS', 'ENVIRONMENTS'], shown.map((fn, i) => {
    const t = lastMinute[i] ?? { invocations: 0, errors: 0, throttles: 0, coldStarts: 0 };
    const mine = envs.filter((e) => e.accountId === api.accountId && e.functionName === fn.name);
    return [fn.name, t.invocations, t.errors, t.throttles, t.coldStarts, countStates(mine.map((e) => e.state))];
  })));
  if (functions.length > shown.length) lines.push(`(and ${functions.length - shown.length} more functions)`);
  lines.push('');
  lines.push(...table(['WORKER', 'FUNCTION', 'VERSION', 'STATE', 'MEMORY', 'AGE'], envs.map((e) => [
    e.worker, e.accountId === api.accountId ? e.functionName : `${e.accountId}/${e.functionName}`, e.version, e.provisioned ? `${e.state} (provisioned)` : e.state, `${e.memoryMb} MB`, age(e.ageMs),
  ])));
  const stems = workers.filter((w) => (w.stems ?? 0) > 0);
  if (stems.length > 0) lines.push('', `warm-pool stems: ${stems.map((w) => `${w.workerId} ${w.stems ?? 0}`).join(', ')}`);
  return lines.join('\n');
}

function countStates(states: string[]): string {
  const counts = new Map<string, number>();
  for (const s of states) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${n} ${s}`).join(', ') || '-';
}

/** Columns padded to their widest cell; control characters never reach the terminal. */
function table(head: string[], rows: (string | number)[][]): string[] {
  const cells = [head, ...rows.map((r) => r.map((c) => forTerminal(String(c), true).replace(/[\n\t]/g, ' ')))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}

function age(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
