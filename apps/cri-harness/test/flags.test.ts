import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { FlagError, parseFlags } from '../src/flags';
import { HARNESS_BIN } from '@tscni/testing/harness-process';

describe('flags', () => {
  it('defaults like containerd', () => {
    expect(parseFlags([])).toEqual({
      socket: '/run/tscni/cri.sock',
      cniConfDir: '/etc/cni/net.d',
      cniBinDirs: ['/opt/cni/bin'],
      cniCacheDir: '/var/lib/cni',
      stateDir: '/var/lib/tscni-cri',
      defaultNetwork: 'embedded',
      cniInProcess: true,
      etcdEndpoints: [],
      policyPrefix: '/tscni/policy',
      nodeName: hostname(),
      help: false,
      version: false,
    });
  });

  it('takes several bin dirs and resolves relative paths', () => {
    const f = parseFlags(['--cni-bin-dir', '/a:/b::rel', '--socket', 'x.sock', '--default-network', 'none']);
    expect(f.cniBinDirs).toEqual(['/a', '/b', `${process.cwd()}/rel`]);
    expect(f.socket).toBe(`${process.cwd()}/x.sock`);
    expect(f.defaultNetwork).toBe('none');
    expect(f.cniInProcess).toBe(true);
    expect(parseFlags(['--no-cni-in-process']).cniInProcess).toBe(false);
  });

  it('refuses unknown flags, bad values and control characters', () => {
    expect(() => parseFlags(['--frob'])).toThrow(FlagError);
    expect(() => parseFlags(['--default-network', 'flannel'])).toThrow(/--default-network must be/);
    expect(() => parseFlags(['--state-dir', 'a\nb'])).toThrow(/--state-dir: invalid path/);
    expect(() => parseFlags(['--etcd-endpoints', '127.0.0.1:2379'])).toThrow(
      /--etcd-endpoints: "127.0.0.1:2379" is not http/,
    );
    expect(() => parseFlags(['--policy-prefix', 'rel'])).toThrow(/--policy-prefix/);
    expect(parseFlags(['--etcd-endpoints', 'http://a:1, http://b:2', '--node-name', 'n1'])).toMatchObject({
      etcdEndpoints: ['http://a:1', 'http://b:2'],
      nodeName: 'n1',
    });
    expect(() => parseFlags(['--etcd-endpoints', 'https://a:1', '--etcd-cafile', '/nonexistent/ca.crt'])).toThrow(
      '--etcd-cafile /nonexistent/ca.crt: no such file',
    );
    expect(() => parseFlags(['--etcd-endpoints', 'https://a:1', '--etcd-certfile', '/c'])).toThrow(
      '--etcd-certfile and --etcd-keyfile go together',
    );
    expect(() => parseFlags(['--etcd-endpoints', 'http://a:1', '--etcd-cafile', '/ca'])).toThrow(
      '--etcd-cafile needs https:// endpoints (--etcd-endpoints is http://a:1)',
    );
    expect(() => parseFlags(['--etcd-cafile', '/ca'])).toThrow(
      '--etcd-cafile, --etcd-certfile and --etcd-keyfile need --etcd-endpoints',
    );
  });

  it('the binary prints usage on a bad flag (exit 2), and one JSON error line when it cannot start (exit 1)', () => {
    const bad = spawnSync(HARNESS_BIN, ['--frob'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('usage: cri-harness');
    expect(spawnSync(HARNESS_BIN, ['--version'], { encoding: 'utf8' }).stdout).toBe(
      'tscni-cri 0.1.0 (CRI runtime.v1)\n',
    );
    const noProto = spawnSync(HARNESS_BIN, ['--socket', '/nonexistent-dir/x.sock'], {
      encoding: 'utf8',
      env: { ...process.env, TSCNI_CRI_PROTO: '/nonexistent/api.proto' },
    });
    expect(noProto.status).toBe(1);
    const lines = noProto.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 'error',
      msg: expect.stringContaining('/nonexistent/api.proto'),
    });
  });
});
