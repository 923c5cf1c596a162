import { describe, expect, it } from 'vitest';
import { CniError } from '@tscni/cni';
import { PluginFailure, confFromBytes } from '@tscni/libcni';
import { parseArgv, UsageError } from '../src/argv';
import { EnvironmentError, readEnvironment } from '../src/environment';
import { describeError, formatErrorLine } from '../src/errors';

describe('argv', () => {
  it('takes the verb, positionals and flags in any order', () => {
    expect(parseArgv(['add', '--json', 'net', '-i', 'net1', '/var/run/netns/x', '--timeout=2.5'])).toMatchObject({
      command: 'add',
      positional: ['net', '/var/run/netns/x'],
      json: true,
      ifName: 'net1',
      timeoutMs: 2500,
    });
    expect(parseArgv(['gc', 'net', '--keep', 'a/eth0', '--keep=b'])).toMatchObject({ keep: ['a/eth0', 'b'] });
  });

  it('refuses unknown options and missing values', () => {
    expect(() => parseArgv(['add', '--frob'])).toThrow(UsageError);
    expect(() => parseArgv(['add', '-i'])).toThrow('-i needs a value');
    expect(() => parseArgv(['add', '--timeout', 'soon'])).toThrow('--timeout wants a number of seconds');
  });

  it('takes install --standalone (it installed the Node SEA the Bun executable replaced) as --runtime bun', () => {
    expect(parseArgv(['install', '/opt/cni/bin', '--standalone']).runtime).toBe('bun');
    expect(parseArgv(['install', '--standalone', '--runtime', 'bun']).runtime).toBe('bun');
    expect(parseArgv(['install', '--runtime=node']).runtime).toBe('node');
    expect(parseArgv(['install']).runtime).toBeUndefined();
    expect(() => parseArgv(['install', '--runtime', 'node', '--standalone'])).toThrow(
      '--runtime bun contradicts --runtime node (--standalone is --runtime bun)',
    );
    expect(() => parseArgv(['install', '--runtime', 'deno'])).toThrow('--runtime wants node or bun, got "deno"');
  });
});

describe('environment (cnitool variables)', () => {
  const args = parseArgv(['add', 'n', 'p']);
  it('defaults like cnitool', () => {
    expect(readEnvironment({}, args)).toEqual({
      netConfPath: '/etc/cni/net.d',
      binDirs: [],
      cniArgs: [],
      capabilityArgs: undefined,
      ifName: 'eth0',
      cacheDir: undefined,
      etcd: {},
    });
  });

  it('reads NETCONFPATH, CNI_PATH, CNI_ARGS, CAP_ARGS, CNI_IFNAME and the cache dir; -i wins over CNI_IFNAME', () => {
    const env = {
      NETCONFPATH: '/c',
      CNI_PATH: '/a::/b',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=x',
      CAP_ARGS: '{"mac":"c2:00:00:00:00:01"}',
      CNI_IFNAME: 'net9',
      CNI_CACHE_DIR: '/cache',
    };
    expect(readEnvironment(env, args)).toEqual({
      netConfPath: '/c',
      binDirs: ['/a', '/b'],
      cniArgs: [
        ['IgnoreUnknown', '1'],
        ['K8S_POD_NAME', 'x'],
      ],
      capabilityArgs: { mac: 'c2:00:00:00:00:01' },
      ifName: 'net9',
      cacheDir: '/cache',
      etcd: {},
    });
    expect(readEnvironment(env, parseArgv(['add', '-i', 'eth7'])).ifName).toBe('eth7');
  });

  it("policy: TSCNI_ETCD_ENDPOINTS/CAFILE/CERTFILE/KEYFILE unless --etcd-* is given (etcdctl's ETCDCTL_* are not read)", () => {
    const env = {
      TSCNI_ETCD_ENDPOINTS: 'https://e:2379',
      TSCNI_ETCD_CAFILE: '/ca',
      TSCNI_ETCD_CERTFILE: '/c',
      TSCNI_ETCD_KEYFILE: '/k',
      ETCDCTL_CACERT: '/x',
    };
    expect(readEnvironment(env, parseArgv(['policy', 'ls'])).etcd).toEqual({
      endpoints: 'https://e:2379',
      cafile: '/ca',
      certfile: '/c',
      keyfile: '/k',
    });
    const flags = parseArgv(['policy', 'ls', '--etcd-cafile', '/ca2', '--etcd-certfile=/c2', '--etcd-keyfile', '/k2']);
    expect(readEnvironment(env, flags).etcd).toEqual({
      endpoints: 'https://e:2379',
      cafile: '/ca2',
      certfile: '/c2',
      keyfile: '/k2',
    });
  });

  for (const bad of ['A', 'A=', '=1', 'A=1=2', 'A=1;']) {
    it(`rejects CNI_ARGS ${JSON.stringify(bad)} like cnitool`, () => {
      expect(() => readEnvironment({ CNI_ARGS: bad }, args)).toThrow(EnvironmentError);
    });
  }

  it('wants CAP_ARGS to be a JSON object', () => {
    expect(() => readEnvironment({ CAP_ARGS: '[1]' }, args)).toThrow('CAP_ARGS must be a JSON object');
    expect(() => readEnvironment({ CAP_ARGS: '{' }, args)).toThrow('CAP_ARGS is not valid JSON');
  });
});

describe('error lines', () => {
  const ctx = { verb: 'add', network: 'podnet', netConfPath: '/etc/cni/net.d', binDirs: ['/opt/cni/bin'] };
  const plugin = confFromBytes('{"type":"bridge"}');

  it('name the plugin, keep its code, say what to fix, on one line', () => {
    const err = new PluginFailure(
      'add',
      plugin,
      'podnet',
      new CniError(1, 'incompatible CNI versions', 'config is "1.1.0", plugin supports ["1.0.0"]'),
    );
    const report = describeError(err, ctx);
    expect(report).toMatchObject({ code: 1, plugin: 'bridge' });
    expect(formatErrorLine(report, ctx)).toBe(
      'tscni add podnet: plugin type="bridge" name="podnet" failed (add): incompatible CNI versions: config is "1.1.0", plugin supports ["1.0.0"] (to fix: set the list\'s cniVersion to one that "bridge" supports; "tscni validate podnet" lists them)',
    );
  });

  it('fold multi-line plugin output into one line', () => {
    const err = new PluginFailure(
      'add',
      plugin,
      'podnet',
      new CniError(999, 'netplugin failed: "panic: x\n\ngoroutine 1"'),
    );
    expect(formatErrorLine(describeError(err, ctx), ctx)).not.toContain('\n');
  });

  it('point at CNI_PATH for a missing binary', () => {
    const err = new PluginFailure(
      'add',
      plugin,
      'podnet',
      new CniError(7, 'failed to find plugin "bridge" in path [/opt/cni/bin]'),
    );
    expect(describeError(err, ctx).hint).toBe(
      'install the "bridge" binary into a directory of CNI_PATH (now "/opt/cni/bin"), or add its directory to CNI_PATH',
    );
  });
});
