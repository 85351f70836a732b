import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const target = process.argv[3];
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const dt = p.timeDeltas; let total = 0; const callers = new Map();
const fnIncl = new Map();
for (let i = 0; i < p.samples.length; i++) {
  total += dt[i] ?? 0;
  let id = p.samples[i]; const chain = [];
  while (id !== undefined) { const n = byId.get(id); chain.push(`${n.callFrame.functionName || '(anon)'}@${n.callFrame.url.replace(/.*\/(dist|node_modules)\//, '$1/')}:${n.callFrame.lineNumber}`); id = parent.get(id); }
  const seen = new Set(); for (const c of chain) { if (!seen.has(c)) { seen.add(c); fnIncl.set(c, (fnIncl.get(c) ?? 0) + (dt[i] ?? 0)); } }
  const k = chain.findIndex((c) => c.startsWith(target));
  if (k >= 0) { const key = chain.slice(k, k + 4).join(' < '); callers.set(key, (callers.get(key) ?? 0) + (dt[i] ?? 0)); }
}
for (const [k, v] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log((v / total * 100).toFixed(1), k);
console.log('--- inclusive of stratus functions');
for (const [k, v] of [...fnIncl].sort((a, b) => b[1] - a[1]).filter(([k]) => k.includes('dist/src')).slice(0, 40)) console.log((v / total * 100).toFixed(1).padStart(5), k);
