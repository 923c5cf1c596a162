// The harness's Bun executable (tools/bun-harness.mjs) is self-contained: a hard link to it outside the repository,
// run in a mount namespace where the repository is hidden under an empty tmpfs, loads its CRI proto from inside
// itself, serves, and stops on SIGTERM (exit 0, socket removed). Without the build's __dirname it would look for the
// proto above the directory it was built in, which only exists on the build machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, linkSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingForKernelTests, sh, TestNode } from '@tscni/testing/node';
import { Crictl } from '@tscni/testing/crictl';
import { HARNESS_BUILDS, HarnessProcess, harnessDirs } from '@tscni/testing/harness-process';

const REPO = join(import.meta.dirname, '../../..');
const missing = missingForKernelTests(['nsenter', 'unshare', 'mount', 'flock']);

describe.skipIf(missing)('the harness as a Bun executable', () => {
  let node: TestNode;
  let holder: ChildProcess;
  let mountNs: string;

  beforeAll(async () => {
    node = new TestNode('hbun');
    // A process holding a private mount namespace in which the checkout is an empty directory.
    holder = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sleep', 'infinity'], { stdio: 'ignore' });
    for (let i = 0; i < 500 && readComm(holder.pid!) !== 'sleep'; i++) await new Promise((r) => setTimeout(r, 10));
    mountNs = `/proc/${holder.pid}/ns/mnt`;
    sh('nsenter', [`--mount=${mountNs}`, '--', 'mount', '-t', 'tmpfs', 'tmpfs', REPO]);
  });
  afterAll(() => {
    holder?.kill('SIGKILL');
    node?.destroy();
  });

  it('is built (nx run cri-harness:build-bun)', () => {
    expect(existsSync(HARNESS_BUILDS.bun), `${HARNESS_BUILDS.bun} exists`).toBe(true);
  });

  it('serves with the repository out of sight, and a SIGTERM stops it cleanly', async () => {
    const exe = join(node.tmp, 'tscni-cri');
    linkSync(HARNESS_BUILDS.bun, exe);
    const opts = harnessDirs(node.tmp, [join(node.tmp, 'no-plugins')], { bin: exe, mountNs });
    const harness = await HarnessProcess.start(node, opts);
    try {
      expect((await new Crictl(opts.socket).version()).runtime_name).toBe('tscni-cri');
      const info = await new Crictl(opts.socket).info();
      expect(info.status.conditions.find((c: { type: string }) => c.type === 'RuntimeReady').status).toBe(true);
    } finally {
      expect(await harness.stop()).toBe(0);
    }
    expect(harness.logs.map((l) => l.msg)).toEqual(['Recovered', 'Serving', 'Shutdown']);
    expect(existsSync(opts.socket)).toBe(false);
  });
});

function readComm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
