#!/usr/bin/env node
// The full concurrency soak: `node e2e/soak/run.mjs --pods 1000 [--parallelism 16] [--report soak.json]`.
// Runs soak.test.ts (the same code CI runs with 64 pods) with the given size and prints its figures.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '1000' },
    parallelism: { type: 'string', default: '16' },
    report: { type: 'string' },
  },
});
for (const [k, v] of Object.entries({ pods: values.pods, parallelism: values.parallelism })) {
  if (!/^[1-9]\d{0,5}$/.test(v)) {
    console.error(`--${k} must be a positive integer, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
}
const report = values.report ?? join(tmpdir(), `tscni-soak-${process.pid}.json`);
const root = join(import.meta.dirname, '../..');
const r = spawnSync('npx', ['vitest', 'run', '--project', 'e2e', 'e2e/soak/soak.test.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, SOAK_PODS: values.pods, SOAK_PARALLELISM: values.parallelism, SOAK_REPORT: report },
});
try {
  console.log(readFileSync(report, 'utf8'));
} catch {
  console.error('no figures were written (the soak did not get to the end)');
}
process.exit(r.status ?? 1);
