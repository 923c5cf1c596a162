/** The bundled executable's contract: usage errors exit 2 as Go's flag package does; with etcd out of reach it retries, logging JSON lines, and stops cleanly on SIGTERM. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TestNode, missingForKernelTests } from '@tscni/testing/node';

const BIN = join(import.meta.dirname, '../../../dist/bin/tscni-agent');
// The executable must have been built: a missing one fails (existsSync is only used for a clear message).
const missing = missingForKernelTests(['ip', 'nsenter']);

describe.skipIf(!!missing)(`tscni-agent's command line${missing ? ` — skipped: ${missing}` : ''}`, () => {
  const nodes: TestNode[] = [];
  afterAll(() => nodes.forEach((n) => n.destroy()));

  it('is built', () => expect(existsSync(BIN), `${BIN} (nx run agent:build)`).toBe(true));

  it('exits 2 with usage on an unknown flag, with the reason on an invalid value; -help exits 0', () => {
    const bad = spawnSync(process.execPath, [BIN, '-kube-subnet-mgr'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^flag provided but not defined: -kube-subnet-mgr\nUsage: tscni-agent/);
    expect(
      spawnSync(process.execPath, [BIN, '-etcd-endpoints', 'localhost:2379'], { encoding: 'utf8' }).stderr,
    ).toContain('is not http(s)://host:port');
    const help = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('-subnet-lease-renew-margin int');
  });

  it('with etcd out of reach it logs JSON lines, retries with growing delays, and exits 0 on SIGTERM having changed nothing', async () => {
    const node = new TestNode('agc');
    nodes.push(node);
    node.exec('ip', ['-batch', '-'], {
      input:
        'link add eth0 type veth peer name eth0p\nlink set eth0p up\naddr add 198.18.0.11/24 dev eth0\nlink set eth0 up\n',
    });
    const before = node.exec('ip', ['-j', 'link', 'show']);
    const child = spawn(
      'nsenter',
      [
        `--net=${node.path}`,
        '--',
        process.execPath,
        BIN,
        '-etcd-endpoints',
        'http://198.18.0.250:2379',
        '-iface',
        'eth0',
        '-subnet-file',
        join(node.tmp, 'subnet.env'),
        '-state-file',
        join(node.tmp, 's.json'),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    const deadline = Date.now() + 40_000;
    while ((stderr.match(/etcd unavailable, retrying/g) ?? []).length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const logs = stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(logs[0]).toMatchObject({ level: 'info', msg: 'external interface', iface: 'eth0', publicIP: '198.18.0.11' });
    const retries = logs.filter((l) => l.msg === 'etcd unavailable, retrying');
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries[0]).toMatchObject({ level: 'warn', op: 'config' });
    expect(retries[0].error).toMatch(/^etcd unreachable at http:\/\/198\.18\.0\.250:2379: /); // @tscni/etcd's words
    expect(retries[1].retryInMs).toBeGreaterThan(retries[0].retryInMs);
    expect(node.exec('ip', ['-j', 'link', 'show'])).toBe(before);
    expect(existsSync(join(node.tmp, 'subnet.env'))).toBe(false);
  }, 60_000);
});
