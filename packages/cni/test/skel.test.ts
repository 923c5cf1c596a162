import { describe, expect, it } from 'vitest';
import { ALL_VERSIONS, CniError, dispatch, type PluginFuncs } from '../src';

const calls: string[] = [];
const funcs: PluginFuncs = {
  add: (a) => {
    calls.push('ADD');
    return {
      cniVersion: '1.1.0',
      interfaces: [{ name: a.ifName, sandbox: a.netns, mtu: 1400 }],
      ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0' }],
    };
  },
  del: () => void calls.push('DEL'),
  check: () => void calls.push('CHECK'),
  gc: (a) => void calls.push(`GC ${JSON.stringify(a.validAttachments())}`),
  status: () => void calls.push('STATUS'),
};
const env = (command: string, extra: Record<string, string | undefined> = {}) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: 'abc123',
  CNI_NETNS: '/var/run/netns/none-such',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
  ...extra,
});
const run = (command: string, conf: unknown, extra: Record<string, string | undefined> = {}) =>
  dispatch(funcs, {}, env(command, extra), () => (typeof conf === 'string' ? conf : JSON.stringify(conf)));
const conf = (v: string) => ({ cniVersion: v, name: 'net1', type: 'test' });

describe('skeleton: every verb × version', () => {
  for (const version of ALL_VERSIONS) {
    it(`ADD prints the result in ${version}`, async () => {
      const o = await run('ADD', conf(version));
      expect(o.exitCode).toBe(0);
      const r = JSON.parse(o.stdout);
      expect(r.cniVersion).toBe(version);
      if (version < '0.3.0')
        expect(r.ip4).toEqual({ ip: '10.0.0.2/24', gateway: '10.0.0.1', routes: [{ dst: '0.0.0.0/0' }] });
      else if (version < '1.0.0') {
        expect(r.ips[0].version).toBe('4');
        expect(r.interfaces[0].mtu).toBeUndefined();
      } else {
        expect(r.ips[0].version).toBeUndefined();
        expect(r.interfaces[0].mtu).toBe(1400);
      }
    });
    it(`DEL at ${version}`, async () => expect((await run('DEL', conf(version))).exitCode).toBe(0));
    it(`CHECK at ${version}`, async () => {
      const o = await run('CHECK', conf(version));
      if (version >= '0.4.0') expect(o.exitCode).toBe(0);
      else expect(JSON.parse(o.stdout)).toEqual({ code: 1, msg: 'config version does not allow CHECK' });
    });
    for (const verb of ['GC', 'STATUS']) {
      it(`${verb} at ${version}`, async () => {
        const o = await run(verb, conf(version), {
          CNI_CONTAINERID: undefined,
          CNI_NETNS: undefined,
          CNI_IFNAME: undefined,
        });
        if (version === '1.1.0') expect(o.exitCode).toBe(0);
        else expect(JSON.parse(o.stdout).code).toBe(1);
      });
    }
  }

  it('GC hands the valid attachments to the plugin', async () => {
    calls.length = 0;
    await run('GC', { ...conf('1.1.0'), 'cni.dev/valid-attachments': [{ containerID: 'c1', ifname: 'eth0' }] });
    expect(calls).toEqual(['GC [{"containerID":"c1","ifname":"eth0"}]']);
  });

  it('VERSION needs no config and lists every version', async () => {
    const o = await dispatch(funcs, {}, { CNI_COMMAND: 'VERSION' }, () => {
      throw new Error('stdin must not be read');
    });
    expect(JSON.parse(o.stdout)).toEqual({ cniVersion: '1.1.0', supportedVersions: [...ALL_VERSIONS] });
  });

  it('no CNI_COMMAND prints the about text and succeeds', async () => {
    const o = await dispatch(funcs, { about: 'test plugin' }, {}, () => '');
    expect(o).toMatchObject({ exitCode: 0, stdout: '' });
    expect(o.stderr).toContain('CNI protocol versions supported');
  });
});

describe('skeleton: error paths', () => {
  const cases: [string, string, unknown, Record<string, string | undefined>, { code: number; msg: string | RegExp }][] =
    [
      ['unknown command', 'FROB', conf('1.0.0'), {}, { code: 4, msg: 'unknown CNI_COMMAND: FROB' }],
      [
        'missing CNI_NETNS on ADD',
        'ADD',
        conf('1.0.0'),
        { CNI_NETNS: undefined },
        { code: 4, msg: 'required env variables [CNI_NETNS] missing' },
      ],
      [
        'missing several on CHECK',
        'CHECK',
        conf('1.0.0'),
        { CNI_CONTAINERID: undefined, CNI_IFNAME: undefined },
        { code: 4, msg: 'required env variables [CNI_CONTAINERID,CNI_IFNAME] missing' },
      ],
      [
        'missing CNI_PATH on DEL',
        'DEL',
        conf('1.0.0'),
        { CNI_PATH: undefined },
        { code: 4, msg: 'required env variables [CNI_PATH] missing' },
      ],
      [
        'container id with a slash',
        'ADD',
        conf('1.0.0'),
        { CNI_CONTAINERID: 'a/b' },
        { code: 4, msg: 'invalid characters in containerID' },
      ],
      [
        'container id with a newline',
        'DEL',
        conf('1.0.0'),
        { CNI_CONTAINERID: 'a\nb' },
        { code: 4, msg: 'invalid characters in containerID' },
      ],
      [
        'ifname too long',
        'ADD',
        conf('1.0.0'),
        { CNI_IFNAME: 'a'.repeat(16) },
        { code: 4, msg: 'interface name is too long' },
      ],
      ['ifname ..', 'ADD', conf('1.0.0'), { CNI_IFNAME: '..' }, { code: 4, msg: 'interface name is . or ..' }],
      ['ifname with a colon', 'ADD', conf('1.0.0'), { CNI_IFNAME: 'eth:0' }, { code: 4, msg: /contains/ }],
      ['broken JSON', 'ADD', '{"cniVersion": "1.0', {}, { code: 6, msg: /^decoding version from network config/ }],
      ['a JSON array', 'ADD', '[1]', {}, { code: 6, msg: /not a JSON object/ }],
      ['cniVersion of the wrong type', 'ADD', { cniVersion: 1, name: 'n' }, {}, { code: 6, msg: /cniVersion/ }],
      ['unsupported version', 'ADD', conf('2.0.0'), {}, { code: 1, msg: 'incompatible CNI versions' }],
      [
        'a network name with a path',
        'ADD',
        { ...conf('1.0.0'), name: '../../etc' },
        {},
        { code: 7, msg: 'invalid characters found in network name' },
      ],
      [
        'a network name with a newline',
        'DEL',
        { ...conf('1.0.0'), name: 'a\nb' },
        {},
        { code: 7, msg: 'invalid characters found in network name' },
      ],
      ['ipam of the wrong type', 'ADD', { ...conf('1.0.0'), ipam: 'host-local' }, {}, { code: 7, msg: /ipam/ }],
    ];
  for (const [what, command, stdin, extra, want] of cases) {
    it(what, async () => {
      const o = await run(command, stdin, extra);
      expect(o.exitCode).toBe(1);
      const e = JSON.parse(o.stdout);
      expect(e.code).toBe(want.code);
      if (typeof want.msg === 'string') expect(e.msg).toBe(want.msg);
      else expect(e.msg).toMatch(want.msg);
    });
  }

  it("refuses the plugin's own network namespace (unless CNI_NETNS_OVERRIDE), before reading stdin", async () => {
    let read = false;
    const own = await dispatch(funcs, {}, env('ADD', { CNI_NETNS: '/proc/self/ns/net' }), () => {
      read = true;
      return JSON.stringify(conf('1.0.0'));
    });
    expect(JSON.parse(own.stdout)).toEqual({
      code: 8,
      msg: "netns must not be the plugin's own network namespace",
      details: '/proc/self/ns/net',
    });
    expect(read).toBe(false);
    const override = await run('DEL', conf('1.0.0'), { CNI_NETNS: '/proc/self/ns/net', CNI_NETNS_OVERRIDE: 'true' });
    expect(override.exitCode).toBe(0);
    // A netns that does not exist is the verb's business (the default env names one).
    expect((await run('DEL', conf('1.0.0'))).exitCode).toBe(0);
  });

  it('a plugin CniError keeps its code and details', async () => {
    const o = await dispatch(
      {
        ...funcs,
        add: () => {
          throw new CniError(11, 'try again', 'busy');
        },
      },
      {},
      env('ADD'),
      () => JSON.stringify(conf('1.0.0')),
    );
    expect(JSON.parse(o.stdout)).toEqual({ code: 11, msg: 'try again', details: 'busy' });
  });

  it('a plain Error becomes 999 without a stack trace', async () => {
    const o = await dispatch(
      {
        ...funcs,
        add: () => {
          throw new Error('boom');
        },
      },
      {},
      env('ADD'),
      () => JSON.stringify(conf('1.0.0')),
    );
    expect(JSON.parse(o.stdout)).toEqual({ code: 999, msg: 'boom' });
    expect(o.stdout).not.toMatch(/at .*\.ts/);
  });

  it('a plugin schema mismatch is code 7 naming the field', async () => {
    const { z } = await import('zod');
    const schema = z.object({ mtu: z.number().int().min(68) }).passthrough();
    const o = await dispatch(
      {
        ...funcs,
        add: (a) => {
          a.parse(schema);
          throw new Error('unreachable');
        },
      },
      {},
      env('ADD'),
      () => JSON.stringify({ ...conf('1.0.0'), mtu: 'big' }),
    );
    const e = JSON.parse(o.stdout);
    expect(e.code).toBe(7);
    expect(e.msg).toMatch(/^invalid network config: mtu: /);
  });

  it("CNI_NETNS equal to the plugin's own namespace is code 8", async () => {
    const o = await run('ADD', conf('1.0.0'), { CNI_NETNS: '/proc/self/ns/net' });
    expect(JSON.parse(o.stdout).code).toBe(8);
    const overridden = await run('ADD', conf('1.0.0'), { CNI_NETNS: '/proc/self/ns/net', CNI_NETNS_OVERRIDE: '1' });
    expect(overridden.exitCode).toBe(0);
  });
});

describe('CmdArgs', () => {
  it('prevResult is converted from the config version', async () => {
    let seen: unknown;
    const prevResult = { cniVersion: '0.4.0', ips: [{ version: '4', address: '10.0.0.5/24' }] };
    await dispatch(
      {
        ...funcs,
        add: (a) => {
          seen = a.prevResult();
          return a.prevResult()!;
        },
      },
      {},
      env('ADD'),
      () => JSON.stringify({ ...conf('0.4.0'), prevResult }),
    );
    expect(seen).toEqual({ cniVersion: '0.4.0', ips: [{ address: '10.0.0.5/24' }] });
  });

  it('cniArgs tolerates the Kubernetes keys and rejects unknown ones without IgnoreUnknown', async () => {
    const seen: unknown[] = [];
    const f = {
      ...funcs,
      add: (a: Parameters<PluginFuncs['add']>[0]) => {
        seen.push(a.cniArgs(['IP']));
        return { cniVersion: '1.0.0' };
      },
    };
    await dispatch(f, {}, env('ADD', { CNI_ARGS: 'K8S_POD_NAME=x;IP=10.0.0.9' }), () => JSON.stringify(conf('1.0.0')));
    expect(seen[0]).toEqual({ IP: '10.0.0.9', K8S_POD_NAME: 'x' });
    const o = await dispatch(f, {}, env('ADD', { CNI_ARGS: 'FOO=1' }), () => JSON.stringify(conf('1.0.0')));
    expect(JSON.parse(o.stdout).msg).toBe('ARGS: unknown args ["FOO"]');
    const ok = await dispatch(f, {}, env('ADD', { CNI_ARGS: 'IgnoreUnknown=true;FOO=1' }), () =>
      JSON.stringify(conf('1.0.0')),
    );
    expect(ok.exitCode).toBe(0);
  });
});
