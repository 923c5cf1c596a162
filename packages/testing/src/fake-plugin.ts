/**
 * Fake plugins for the error paths.
 * - A "spy" (writeSpy): a small executable written into a test dir. It logs every call (verb, CNI_* env,
 *   the config it got) to a JSON-lines file and answers like a well-behaved plugin (ADD passes prevResult
 *   through or reports one interface), unless told to fail, sleep or print stderr. libcni's and the CLI's tests.
 * - The "recorder" (RECORDER, in RECORDER_DIR): a fixed executable (fixtures/recorder) steered by its config
 *   and by files: it appends every call to `<recordDir>/calls.jsonl`, passes prevResult through on ADD, and
 *   `<recordDir>/fail-<VERB>` / `stall-<VERB>` make a verb fail or hang. The harness's and e2e suites.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The recorder plugin (type `recorder`): symlink it into a CNI bin dir, or put RECORDER_DIR on the path. */
export const RECORDER = join(import.meta.dirname, '../fixtures/recorder');
export const RECORDER_DIR = dirname(RECORDER);

export interface SpyBehaviour {
  log: string;
  versions?: string[];
  /** verb → the CNI error printed on stdout (exit 1) */
  fail?: Record<string, { code: number; msg: string; details?: string }>;
  /** verb → plain text printed on stderr with exit 1 (no JSON error) */
  crash?: Record<string, string>;
  stderr?: string;
  sleepMs?: number;
  sleepOn?: string;
  ip?: string;
  /** answer ADD in this version instead of the config's (0.x results carry ips[].version) */
  answerVersion?: string;
  /** print this instead of a result on ADD */
  rawAdd?: string;
}

export interface SpyCall {
  type: string;
  cmd: string;
  env: Record<string, string | undefined>;
  conf: Record<string, any>;
}

export function writeSpy(dir: string, type: string, behaviour: SpyBehaviour): string {
  const file = join(dir, type);
  const script = `#!/usr/bin/env node
const fs = require('fs');
const B = ${JSON.stringify(behaviour)};
const cmd = process.env.CNI_COMMAND;
const input = fs.readFileSync(0, 'utf8');
const out = (o) => { process.stdout.write(JSON.stringify(o)); process.exit(0); };
if (cmd === 'VERSION') out({ cniVersion: '1.1.0', supportedVersions: B.versions || ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
const conf = JSON.parse(input);
const env = {};
for (const k of ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH', 'SPY_PARENT']) env[k] = process.env[k];
fs.appendFileSync(B.log, JSON.stringify({ type: ${JSON.stringify(type)}, cmd, env, conf }) + '\\n');
if (B.stderr) process.stderr.write(B.stderr);
if (B.sleepMs && B.sleepOn === cmd) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, B.sleepMs);
if (B.crash && B.crash[cmd]) { process.stderr.write(B.crash[cmd]); process.exit(2); }
if (B.fail && B.fail[cmd]) { process.stdout.write(JSON.stringify(B.fail[cmd])); process.exit(1); }
if (cmd === 'ADD') {
  if (B.rawAdd !== undefined) { process.stdout.write(B.rawAdd); process.exit(0); }
  if (conf.prevResult) out(conf.prevResult);
  if (B.answerVersion) out({ cniVersion: B.answerVersion, ips: [{ address: B.ip || '10.99.0.5/24', ...(B.answerVersion < '1.0.0' ? { version: '4' } : {}) }] });
  out({ cniVersion: conf.cniVersion, interfaces: [{ name: process.env.CNI_IFNAME, sandbox: process.env.CNI_NETNS }], ips: [{ address: B.ip || '10.99.0.5/24', gateway: '10.99.0.1', interface: 0 }], dns: {} });
}
process.exit(0);
`;
  writeFileSync(file, script, { mode: 0o755 });
  return file;
}

export function spyCalls(log: string): SpyCall[] {
  let text = '';
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SpyCall);
}
