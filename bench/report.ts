/** What a scenario returns, and the report written from it: bench/results/<date>.md and .json. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Summary } from './stats.js';

export interface Row {
  target: string;
  metric: string;
  unit: string;
  summary: Summary;
  note?: string;
}

export interface Table {
  title: string;
  rows: Row[];
  /** A plain table instead of summary rows (e.g. a breakdown): header and cells as text. */
  plain?: { header: string[]; cells: string[][] };
}

/** A target of the issue, checked against this run. `met` is null when it could not be measured. */
export interface Check {
  scenario: string;
  target: string;
  measured: string;
  met: boolean | null;
}

export interface ScenarioResult {
  id: string;
  title: string;
  ok: boolean;
  error?: string;
  durationS: number;
  /** 1-minute load average when the scenario started (other tenants' load shows here). */
  loadAvgAtStart?: number;
  method: string[];
  tables: Table[];
  checks: Check[];
  notes: string[];
}

export interface RunInfo {
  startedAt: string;
  finishedAt: string;
  durationS: number;
  machine: { cpus: number; cpuModel: string; memGb: number; kernel: string; node: string; loadAvgAtStart: number[]; loadAvgAtEnd: number[] };
  loadGenerator: string;
  stratusOptions: string[];
  rounds: number;
  quick: boolean;
  peer: { ok: boolean; versions?: Record<string, string>; error?: string };
}

export interface Report {
  run: RunInfo;
  scenarios: ScenarioResult[];
}

const fmt = (v: number, unit: string): string => {
  if (!Number.isFinite(v)) return 'n/a';
  if (unit === 'req/s' || unit === 'kB') return Math.round(v).toLocaleString('en-US');
  const abs = Math.abs(v);
  return abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : abs >= 1 ? v.toFixed(2) : v.toFixed(3);
};

function spreadCell(s: Summary, unit: string): string {
  if (s.rounds < 2) return s.rounds === 0 ? '' : '1 round';
  return `${fmt(s.spread.min, unit)}–${fmt(s.spread.max, unit)} (±${(s.spread.relPct / 2).toFixed(0)}%)`;
}

export function checksTable(checks: Check[]): string {
  const lines = ['| Scenario | Target | Measured | Met |', '| --- | --- | --- | --- |'];
  for (const c of checks) {
    lines.push(`| ${c.scenario} | ${c.target} | ${c.measured} | ${c.met === null ? 'n/a' : c.met ? 'yes' : '**no**'} |`);
  }
  return lines.join('\n');
}

function renderTable(t: Table): string {
  if (t.plain) {
    const { header, cells } = t.plain;
    return [`**${t.title}**`, '', `| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...cells.map((c) => `| ${c.join(' | ')} |`)].join('\n');
  }
  const lines = [
    `**${t.title}**`,
    '',
    '| Target | Metric | Median | p90 | p99 | Spread of round medians (min–max) | Samples / rounds |',
    '| --- | --- | ---: | ---: | ---: | --- | --- |',
  ];
  for (const r of t.rows) {
    const s = r.summary;
    const name = r.note ? `${r.target} (${r.note})` : r.target;
    lines.push(
      `| ${name} | ${r.metric} (${r.unit}) | ${fmt(s.median, r.unit)} | ${fmt(s.p90, r.unit)} | ${fmt(s.p99, r.unit)} | ${spreadCell(s, r.unit)} | ${s.n} / ${s.rounds} |`,
    );
  }
  return lines.join('\n');
}

export function renderMarkdown(report: Report): string {
  const { run } = report;
  const out: string[] = [
    `# Stratus benchmark — ${run.startedAt.slice(0, 10)}`,
    '',
    `Run ${run.startedAt} → ${run.finishedAt} (${Math.round(run.durationS)} s)${run.quick ? ', **quick mode** (fewer samples: not for comparison)' : ''}.`,
    `Machine: ${run.machine.cpus} × ${run.machine.cpuModel}, ${run.machine.memGb} GB RAM, Linux ${run.machine.kernel}, Node.js ${run.machine.node}; ` +
      `load average ${run.machine.loadAvgAtStart.map((l) => l.toFixed(2)).join(' / ')} at the start and ` +
      `${run.machine.loadAvgAtEnd.map((l) => l.toFixed(2)).join(' / ')} at the end (the machine is shared and noisy: ` +
      'every scenario interleaves its baselines with Stratus round by round, so compare ratios within this report).',
    `Stratus: \`stratus up ${run.stratusOptions.join(' ')}\` (a fresh process per scenario, its own data dir). ` +
      `Load generator: ${run.loadGenerator}. Rounds per scenario: ${run.rounds}.`,
    `Peer: ${run.peer.ok ? `serverless ${run.peer.versions?.['serverless']} + serverless-offline ${run.peer.versions?.['serverlessOffline']}` : `not available — ${run.peer.error ?? 'unknown error'}`}.`,
    '',
    'Percentiles are over all samples pooled across rounds (for wrk runs: the median over rounds of each',
    "round's percentile). Spread: the lowest and highest round median, and ± half that range relative to the median.",
    '',
    '## Targets',
    '',
    checksTable(report.scenarios.flatMap((s) => s.checks)),
    '',
  ];
  for (const s of report.scenarios) {
    out.push(`## ${s.title}`, '');
    if (!s.ok) out.push(`**The scenario failed to run:** \`${(s.error ?? 'unknown error').replace(/`/g, "'").slice(0, 1500)}\``, '');
    if (s.method.length) out.push('How:', '', ...s.method.map((m) => `- ${m}`), '');
    for (const t of s.tables) out.push(renderTable(t), '');
    if (s.checks.length) out.push(checksTable(s.checks), '');
    if (s.notes.length) out.push('Notes:', '', ...s.notes.map((n) => `- ${n}`), '');
    const load = s.loadAvgAtStart === undefined ? '' : `; 1-minute load average at its start: ${s.loadAvgAtStart.toFixed(1)} on ${run.machine.cpus} cores`;
    out.push(`_Scenario time: ${Math.round(s.durationS)} s${load}._`, '');
  }
  return out.join('\n');
}

/** Writes <dir>/<date>.md and .json; returns the base name. */
export async function writeReport(dir: string, report: Report): Promise<string> {
  await mkdir(dir, { recursive: true });
  const base = report.run.startedAt.slice(0, 10);
  await writeFile(join(dir, `${base}.json`), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(dir, `${base}.md`), renderMarkdown(report));
  return base;
}

const START = '<!-- latest-results:start -->';
const END = '<!-- latest-results:end -->';

/**
 * Replaces the latest-results block of a README (bench/README.md, the repository's README.md)
 * with a link and the targets table; `resultsLink` is the results folder relative to the README.
 */
export async function updateReadme(readmePath: string, resultsLink: string, base: string, report: Report): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(readmePath, 'utf8');
  } catch {
    return false;
  }
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return false;
  const block = [
    START,
    `Latest: [${resultsLink}${base}.md](${resultsLink}${base}.md) ([json](${resultsLink}${base}.json)) — ${report.run.machine.cpus} cores, Node.js ${report.run.machine.node}` +
      `${report.run.quick ? ', quick mode' : ''}.`,
    '',
    checksTable(report.scenarios.flatMap((s) => s.checks)),
    END,
  ].join('\n');
  await writeFile(readmePath, text.slice(0, a) + block + text.slice(b + END.length));
  return true;
}
