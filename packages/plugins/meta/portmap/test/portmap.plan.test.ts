import { afterEach, describe, expect, it } from 'vitest';
import { dispatch } from '@tscni/cni';
import { CommandError } from '@tscni/net/host';
import { recordCommands, type RecordedCall } from '@tscni/testing/node';
import { portmap } from '../src/portmap';
import { dnatChainName, oldSnatChainName } from '../src/iptables-rules';

// The commands (and how few processes) an ADD and a DEL cost, through the injectable runner: no kernel needed.
// Each read-free script either applies or fails as a whole; what follows a failure is the read path (portmap.test.ts
// and interop.test.ts run both against the kernel and the reference).
const POD = import.meta.filename;
const ID = 'ctr1';
const ENV = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: ID, CNI_NETNS: POD, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' };
const DNAT = dnatChainName('net1', ID);
const prevResult = (...addresses: string[]) => ({
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', sandbox: POD }],
  ips: addresses.map((address) => ({ address, interface: 0 })),
});
const conf = (extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0',
  name: 'net1',
  type: 'portmap',
  runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
  prevResult: prevResult('10.1.0.2/24'),
  ...extra,
});
const ENTRY = `-p tcp -m comment --comment "dnat name: \\"net1\\" id: \\"${ID}\\"" -m multiport --dports 8080 -j ${DNAT}`;

/** A kernel where every restore succeeds unless `fails` matches its script, and the nat table is empty. */
const kernel = (fails?: RegExp) => (call: RecordedCall) => {
  if (call.cmd.endsWith('-restore') && fails?.test(call.input ?? ''))
    throw new CommandError(call.cmd, call.args, 1, 'iptables-restore: line 2 failed\n');
  if (call.cmd === 'ip') return '[]'; // no route: no route_localnet to write (this runs in the real root namespace)
  return call.cmd.endsWith('-save') ? '*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n' : '';
};
const run = (verb: string, c: object) => dispatch(portmap, {}, { ...ENV, CNI_COMMAND: verb }, () => JSON.stringify(c));
const tools = (calls: RecordedCall[]) => calls.map((c) => c.cmd).sort();

describe('portmap iptables plan', () => {
  let rec: ReturnType<typeof recordCommands> | undefined;
  afterEach(() => rec?.restore());

  it('ADD on a node whose shared chains are in place: one restore that checks them and creates the chain, beside the route lookup', async () => {
    rec = recordCommands(kernel());
    const out = await run('ADD', conf());
    expect(out.exitCode, out.stdout).toBe(0);
    expect(tools(rec.calls)).toEqual(['ip', 'iptables-restore']);
    const script = rec.calls.find((c) => c.cmd === 'iptables-restore')!.input!.split('\n');
    expect(script).toEqual([
      '*nat',
      '-C PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT',
      '-C OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT',
      '-C CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000',
      '-C CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE',
      '-C POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ',
      `-N ${DNAT}`,
      `-A ${DNAT} -s 10.1.0.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK`,
      `-A ${DNAT} -s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK`,
      `-A ${DNAT} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.0.2:80`,
      `-I CNI-HOSTPORT-DNAT 1 ${ENTRY}`,
      'COMMIT',
      '',
    ]);
  });

  it('ADD whose read-free script fails (first on the node, or repeated) reads the table and writes it the old way', async () => {
    rec = recordCommands(kernel(/^-N /m));
    const out = await run('ADD', conf());
    expect(out.exitCode, out.stdout).toBe(0);
    expect(rec.calls.map((c) => c.cmd).filter((cmd) => cmd !== 'ip')).toEqual([
      'iptables-restore',
      'iptables-save',
      'iptables-restore',
    ]);
    const last = rec.calls.filter((c) => c.cmd === 'iptables-restore').at(-1)!.input!;
    expect(last).toContain(`:CNI-HOSTPORT-DNAT - [0:0]\n`);
    expect(last).toContain(`:${DNAT} - [0:0]\n`);
    expect(last).toContain('-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n');
  });

  it('dual-stack ADD: one read-free restore per family, side by side', async () => {
    rec = recordCommands(kernel());
    const out = await run('ADD', conf({ prevResult: prevResult('10.1.0.2/24', 'fd01::2/64') }));
    expect(out.exitCode, out.stdout).toBe(0);
    expect(tools(rec.calls)).toEqual(['ip', 'ip6tables-restore', 'iptables-restore']);
  });

  it('DEL with the cached prevResult: one restore in the family ADD wrote, which deletes the entry rules and both chains', async () => {
    rec = recordCommands(kernel());
    const out = await run('DEL', conf());
    expect(out.exitCode, out.stdout).toBe(0);
    expect(rec.calls.map((c) => [c.cmd, c.input])).toEqual([
      [
        'iptables-restore',
        [
          '*nat',
          `:${DNAT} - [0:0]`,
          `:${oldSnatChainName('net1', ID)} - [0:0]`,
          `-D CNI-HOSTPORT-DNAT ${ENTRY}`,
          `-X ${DNAT}`,
          `-X ${oldSnatChainName('net1', ID)}`,
          'COMMIT',
          '',
        ].join('\n'),
      ],
    ]);
  });

  it('DEL without prevResult, with mappings DEL cannot trust, or whose script fails reads both families', async () => {
    const withoutPrev = { ...conf(), prevResult: undefined };
    const badMappings = conf({ runtimeConfig: { portMappings: [{ hostPort: 'x', protocol: 'tcp\n-F' }] } });
    for (const [c, fails] of [
      [withoutPrev, undefined],
      [badMappings, undefined],
      [conf(), /^-D /m],
    ] as const) {
      rec = recordCommands(kernel(fails));
      const out = await run('DEL', c);
      expect(out.exitCode, out.stdout).toBe(0);
      expect(rec.calls.map((call) => call.cmd).filter((cmd) => cmd.endsWith('-save'))).toEqual([
        'iptables-save',
        'ip6tables-save',
      ]);
      rec.restore();
    }
  });
});
