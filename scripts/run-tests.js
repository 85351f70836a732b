#!/usr/bin/env node
// Runs the whole test suite with node's test runner: unit tests beside the code (dist/src, dist/bench),
// contract suites (dist/test/contract) and integration tests (dist/test/integration).
// Usage: node scripts/run-tests.js [filter...]   (filters match test file paths)
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  let out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out = out.concat(find(path));
    else if (entry.name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = [...find('dist/src'), ...find('dist/test'), ...find('dist/bench')]
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('run-tests: no test files found (did the build run?)');
  process.exit(1);
}
// Two files at a time: most tests wait on processes and sockets, not the CPU, and every test uses
// ephemeral ports and its own directories, so files run side by side (on 2 cores: ~9 instead of ~15 minutes).
const child = spawn(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=2', ...files], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
