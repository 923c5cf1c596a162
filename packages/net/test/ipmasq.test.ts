import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CommandError,
  ipMasqFor,
  ipMasqStateDir,
  masqChainName,
  masqStatePath,
  nftMasqComment,
  setRunner,
  spawnRunner,
  type CommandRunner,
} from '../src';

// Chain names the Debian reference bridge/ptp created for these (network, containerID) pairs.
const REFERENCE_CHAINS: [string, string, string][] = [
  ['mynet', 'abc', 'CNI-e88f49d94512ff752ebe6070'],
  ['ptpnet', 'ptp1', 'CNI-33a12ac422a9a9de4106a83e'],
];

const owner = { network: 'mynet', containerID: 'abc', ifName: 'eth0' };
const CHAIN = 'CNI-e88f49d94512ff752ebe6070';
const COMMENT = '-m comment --comment "name: \\"mynet\\" id: \\"abc\\""';

/**
 * A fake iptables-save / nft that answers from `saved`, recording every write (and every read, in `calls`). A
 * restore fails, like the real one, when it creates (`-N`) a chain the saved table has, or deletes (`-D`, `-X`)
 * something it lacks.
 */
function fakeHost(saved: { nat4?: string; nat6?: string; nft?: unknown[] } = {}) {
  const writes: { cmd: string; args: readonly string[]; input?: string }[] = [];
  const calls: string[] = [];
  const runner: CommandRunner = async (cmd, args, opts = {}) => {
    calls.push(cmd);
    const table = cmd.startsWith('ip6') ? saved.nat6 : saved.nat4;
    if (cmd.endsWith('tables-restore')) {
      const lines = (table ?? '').split('\n');
      for (const line of opts.input!.split('\n')) {
        const chainThere = (c: string) => lines.some((l) => l.startsWith(`:${c} `));
        const [op, arg] = line.split(' ');
        if (
          (op === '-N' && chainThere(arg)) ||
          (op === '-X' && !chainThere(arg)) ||
          (op === '-D' && !lines.includes('-A' + line.slice(2)))
        )
          throw new CommandError(cmd, args, 1, `${cmd}: line 2 failed`);
      }
    }
    if (cmd === 'iptables-save')
      return { stdout: saved.nat4 ?? '*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n', stderr: '' };
    if (cmd === 'ip6tables-save')
      return { stdout: saved.nat6 ?? '*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n', stderr: '' };
    if (cmd === 'nft' && args[0] === '-j') return { stdout: JSON.stringify({ nftables: saved.nft ?? [] }), stderr: '' };
    writes.push({ cmd, args, input: opts.input });
    return { stdout: '', stderr: '' };
  };
  return { runner, writes, calls };
}

describe('ipMasq (injected runner)', () => {
  afterEach(() => setRunner(spawnRunner));

  it('names chains exactly like the reference', () => {
    for (const [network, containerID, chain] of REFERENCE_CHAINS)
      expect(masqChainName({ network, containerID })).toBe(chain);
  });

  it('iptables: one restore per family, every ACCEPT before the MASQUERADE, no duplicate POSTROUTING jump', async () => {
    const existingJump = `-A POSTROUTING -s 10.0.0.5/32 ${COMMENT} -j ${CHAIN}`;
    const host = fakeHost({ nat4: `*nat\n:POSTROUTING ACCEPT [0:0]\n:${CHAIN} - [0:0]\n${existingJump}\nCOMMIT\n` });
    setRunner(host.runner);
    await ipMasqFor('iptables').setup(['10.0.0.5/24', '10.1.0.5/16', 'fd00::5/64'], owner);
    // The new chain would exist already (a repeated ADD): the failed `-N` restore, then a read, then the rebuild.
    expect(host.calls).toEqual(
      expect.arrayContaining(['iptables-restore', 'iptables-save', 'iptables-restore', 'ip6tables-restore']),
    );
    expect(host.calls).not.toContain('ip6tables-save');
    const v4 = host.writes.find((w) => w.cmd === 'iptables-restore')!;
    const v6 = host.writes.find((w) => w.cmd === 'ip6tables-restore')!;
    expect(host.writes).toHaveLength(2);
    expect(v4.input!.split('\n')).toEqual([
      '*nat',
      `:${CHAIN} - [0:0]`,
      `-A ${CHAIN} -d 10.0.0.0/24 ${COMMENT} -j ACCEPT`,
      `-A ${CHAIN} -d 10.1.0.0/16 ${COMMENT} -j ACCEPT`,
      `-A ${CHAIN} ! -d 224.0.0.0/4 ${COMMENT} -j MASQUERADE`,
      `-A POSTROUTING -s 10.1.0.5/32 ${COMMENT} -j ${CHAIN}`,
      'COMMIT',
      '',
    ]);
    expect(v6.input).toContain(`-N ${CHAIN}`); // no IPv6 chain yet: created without a read
    expect(v6.input).toContain(`-A ${CHAIN} ! -d ff00::/8 ${COMMENT} -j MASQUERADE`);
    expect(v6.input).toContain(`-A POSTROUTING -s fd00::5/128 ${COMMENT} -j ${CHAIN}`);
  });

  it('iptables, a new attachment: one restore per family that creates the chain (-N), no read', async () => {
    const host = fakeHost();
    setRunner(host.runner);
    await ipMasqFor('iptables').setup(['10.0.0.5/24', 'fd00::5/64'], owner);
    expect(host.calls.sort()).toEqual(['ip6tables-restore', 'iptables-restore']);
    expect(host.writes.find((w) => w.cmd === 'iptables-restore')!.input!.split('\n')).toEqual([
      '*nat',
      `-N ${CHAIN}`,
      `-A ${CHAIN} -d 10.0.0.0/24 ${COMMENT} -j ACCEPT`,
      `-A ${CHAIN} ! -d 224.0.0.0/4 ${COMMENT} -j MASQUERADE`,
      `-A POSTROUTING -s 10.0.0.5/32 ${COMMENT} -j ${CHAIN}`,
      'COMMIT',
      '',
    ]);
  });

  it('teardown with the addresses the ADD used: one restore, no read, only their family, and no nft', async () => {
    const jump = `-A POSTROUTING -s 10.0.0.5/32 ${COMMENT} -j ${CHAIN}`;
    const host = fakeHost({ nat4: `*nat\n:POSTROUTING ACCEPT [0:0]\n:${CHAIN} - [0:0]\n${jump}\nCOMMIT\n` });
    setRunner(host.runner);
    await ipMasqFor().teardown(owner, ['10.0.0.5/24']);
    // The iptables rules were this ADD's: it wrote no nft rules, so nft's table is not read.
    expect(host.calls).toEqual(['iptables-restore']);
    expect(host.writes[0].input!.split('\n')).toEqual([
      '*nat',
      '-D' + jump.slice(2),
      `-F ${CHAIN}`,
      `-X ${CHAIN}`,
      'COMMIT',
      '',
    ]);
  });

  it('teardown with the addresses of an nftables ADD: the iptables restore fails, then both backends are read', async () => {
    const host = fakeHost({ nft: [{ rule: { handle: 9, comment: nftMasqComment(owner) } }] });
    setRunner(host.runner);
    await ipMasqFor('nftables').teardown(owner, ['10.0.0.5/24', 'fd00::5/64']);
    expect([...host.calls].sort()).toEqual(
      ['ip6tables-restore', 'ip6tables-save', 'iptables-restore', 'iptables-save', 'nft', 'nft'].sort(),
    );
    expect(host.writes.find((w) => w.cmd === 'nft')!.input).toBe(
      'delete rule inet cni_plugins_masquerade masq_checks handle 9\n',
    );
    // One family's rules there, the other's not: that family and nft are read.
    const jump = `-A POSTROUTING -s 10.0.0.5/32 ${COMMENT} -j ${CHAIN}`;
    const half = fakeHost({ nat4: `*nat\n:POSTROUTING ACCEPT [0:0]\n:${CHAIN} - [0:0]\n${jump}\nCOMMIT\n` });
    setRunner(half.runner);
    await ipMasqFor().teardown(owner, ['10.0.0.5/24', 'fd00::5/64']);
    expect([...half.calls].sort()).toEqual(['ip6tables-restore', 'ip6tables-save', 'iptables-restore', 'nft'].sort());
  });

  it('teardown with the addresses the ADD used reads the table when the rules are not as expected', async () => {
    const legacyJump = `-A POSTROUTING -s 10.0.0.0/24 ${COMMENT} -j ${CHAIN}`;
    const host = fakeHost({ nat4: `*nat\n:POSTROUTING ACCEPT [0:0]\n:${CHAIN} - [0:0]\n${legacyJump}\nCOMMIT\n` });
    setRunner(host.runner);
    await ipMasqFor().teardown(owner, ['10.0.0.5/24']);
    expect(host.calls.filter((c) => c !== 'nft')).toEqual(['iptables-restore', 'iptables-save', 'iptables-restore']);
    expect(host.writes.at(-1)!.input).toContain('-D' + legacyJump.slice(2));
    // an address that does not parse: every family is searched
    const again = fakeHost();
    setRunner(again.runner);
    await ipMasqFor().teardown(owner, ['bogus']);
    expect(again.calls).toEqual(expect.arrayContaining(['iptables-save', 'ip6tables-save']));
  });

  it('nftables: base chain rebuilt, stale rules of the same attachment replaced, reference comment', async () => {
    const comment = nftMasqComment(owner);
    expect(comment).toMatch(/^[0-9a-f]{16}-[0-9a-f]{16}, net: mynet, if: eth0, id: abc$/);
    const host = fakeHost({
      nft: [{ rule: { handle: 7, comment } }, { rule: { handle: 8, comment: 'someone else' } }],
    });
    setRunner(host.runner);
    await ipMasqFor('nftables').setup(['10.0.0.5/24'], owner);
    const script = host.writes[0].input!;
    expect(script).toContain(
      'add chain inet cni_plugins_masquerade postrouting { type nat hook postrouting priority srcnat ; }',
    );
    expect(script).toContain('flush chain inet cni_plugins_masquerade postrouting');
    expect(script).toContain('delete rule inet cni_plugins_masquerade masq_checks handle 7');
    expect(script).not.toContain('handle 8');
    expect(script).toContain(
      `add rule inet cni_plugins_masquerade masq_checks ip saddr 10.0.0.5 ip daddr != 10.0.0.0/24 masquerade comment "${comment}"`,
    );
  });

  it('teardown removes the jumps and the chain from both families and the nft rules, whatever the addresses were', async () => {
    const jump = `-A POSTROUTING -s 10.0.0.5/32 ${COMMENT} -j ${CHAIN}`;
    const legacyJump = `-A POSTROUTING -s 10.0.0.0/24 ${COMMENT} -j ${CHAIN}`;
    const host = fakeHost({
      nat4: `*nat\n:POSTROUTING ACCEPT [0:0]\n:${CHAIN} - [0:0]\n${jump}\n${legacyJump}\n-A POSTROUTING -s 10.9.9.9/32 -j CNI-other\nCOMMIT\n`,
      nft: [{ rule: { handle: 3, comment: nftMasqComment(owner) } }],
    });
    setRunner(host.runner);
    await ipMasqFor().teardown(owner);
    const v4 = host.writes.find((w) => w.cmd === 'iptables-restore')!;
    expect(v4.input!.split('\n')).toEqual([
      '*nat',
      '-D' + jump.slice(2),
      '-D' + legacyJump.slice(2),
      `-F ${CHAIN}`,
      `-X ${CHAIN}`,
      'COMMIT',
      '',
    ]);
    expect(host.writes.find((w) => w.cmd === 'ip6tables-restore')).toBeUndefined(); // nothing there
    expect(host.writes.find((w) => w.cmd === 'nft')!.input).toBe(
      'delete rule inet cni_plugins_masquerade masq_checks handle 3\n',
    );
  });

  it('GC keeps valid attachments and the rules of other networks', async () => {
    const stale = { network: 'mynet', containerID: 'gone', ifName: 'eth0' };
    const staleChain = masqChainName(stale);
    const nat4 = [
      '*nat',
      `-A POSTROUTING -s 10.0.0.5/32 ${COMMENT} -j ${CHAIN}`,
      `-A POSTROUTING -s 10.0.0.6/32 -m comment --comment "name: \\"mynet\\" id: \\"gone\\"" -j ${staleChain}`,
      `-A POSTROUTING -s 10.7.0.6/32 -m comment --comment "name: \\"othernet\\" id: \\"gone\\"" -j ${masqChainName({ network: 'othernet', containerID: 'gone' })}`,
      `:${staleChain} - [0:0]`,
      'COMMIT',
      '',
    ].join('\n');
    const host = fakeHost({
      nat4,
      nft: [
        { rule: { handle: 1, comment: nftMasqComment(owner) } },
        { rule: { handle: 2, comment: nftMasqComment(stale) } },
        { rule: { handle: 3, comment: nftMasqComment({ ...stale, network: 'othernet' }) } },
      ],
    });
    setRunner(host.runner);
    await ipMasqFor().gc('mynet', [{ containerID: 'abc', ifname: 'eth0' }]);
    const v4 = host.writes.find((w) => w.cmd === 'iptables-restore')!.input!;
    expect(v4).toContain(`-D POSTROUTING -s 10.0.0.6/32`);
    expect(v4).toContain(`-X ${staleChain}`);
    expect(v4).not.toContain(CHAIN);
    expect(v4).not.toContain('othernet');
    expect(host.writes.find((w) => w.cmd === 'nft')!.input).toBe(
      'delete rule inet cni_plugins_masquerade masq_checks handle 2\n',
    );
  });

  it('refuses owners that could break out of a rule comment', async () => {
    await expect(ipMasqFor('iptables').setup(['10.0.0.5/24'], { ...owner, network: 'a" -j ACCEPT' })).rejects.toThrow(
      /invalid network/,
    );
    await expect(ipMasqFor().teardown({ ...owner, ifName: 'eth"0' })).rejects.toThrow(/invalid ifName/);
  });
});

describe('ipMasq with a state directory: the backend the ADD recorded', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ipmasq-state-'));
  });
  afterEach(() => {
    setRunner(spawnRunner);
    rmSync(dir, { recursive: true, force: true });
  });
  const file = () => join(dir, 'mynet', 'abc:eth0');
  const record = () => (existsSync(file()) ? readFileSync(file(), 'utf8') : undefined);
  const nftRule = { nft: [{ rule: { handle: 9, comment: nftMasqComment(owner) } }] };

  it('nftables: recorded before the rules; the DEL runs nft only, whatever the config says now, and drops the record', async () => {
    const host = fakeHost();
    const seen: (string | undefined)[] = [];
    setRunner(async (cmd, args, opts) => {
      seen.push(record());
      return host.runner(cmd, args, opts);
    });
    await ipMasqFor('nftables', dir).setup(['10.0.0.5/24', 'fd00::5/64'], owner);
    expect(seen).toEqual(['{"backend":"nftables"}\n', '{"backend":"nftables"}\n']); // the read, then the write
    const del = fakeHost(nftRule);
    setRunner(del.runner);
    // The config changed to iptables between ADD and DEL: the record wins.
    await ipMasqFor('iptables', dir).teardown(owner, ['10.0.0.5/24', 'fd00::5/64']);
    expect(del.calls).toEqual(['nft', 'nft']);
    expect(del.writes[0].input).toBe('delete rule inet cni_plugins_masquerade masq_checks handle 9\n');
    expect(record()).toBeUndefined();
    expect(existsSync(join(dir, 'mynet'))).toBe(false); // the network's last record: its directory goes too
    // A second DEL has no record: every backend, as before.
    const again = fakeHost();
    setRunner(again.runner);
    await ipMasqFor('nftables', dir).teardown(owner, ['10.0.0.5/24']);
    expect(again.calls.sort()).toEqual(['iptables-restore', 'iptables-save', 'nft']);
  });

  it('iptables: no record (its DEL with the addresses skips nft already); a record naming iptables is honoured', async () => {
    setRunner(fakeHost().runner);
    await ipMasqFor('iptables', dir).setup(['10.0.0.5/24'], owner);
    expect(existsSync(join(dir, 'mynet'))).toBe(false);
    mkdirSync(join(dir, 'mynet'));
    writeFileSync(file(), '{"backend":"iptables"}\n');
    const jump = `-A POSTROUTING -s 10.0.0.5/32 ${COMMENT} -j ${CHAIN}`;
    const del = fakeHost({ nat4: `*nat\n:POSTROUTING ACCEPT [0:0]\n:${CHAIN} - [0:0]\n${jump}\nCOMMIT\n` });
    setRunner(del.runner);
    await ipMasqFor('nftables', dir).teardown(owner);
    expect(del.calls.sort()).toEqual(['ip6tables-save', 'iptables-restore', 'iptables-save']);
    expect(record()).toBeUndefined();
    // with the ADD's addresses and the rules not as expected: that family is read, nft still not
    mkdirSync(join(dir, 'mynet')); // (the last record's DEL removed it)
    writeFileSync(file(), '{"backend":"iptables"}\n');
    const odd = fakeHost();
    setRunner(odd.runner);
    await ipMasqFor('iptables', dir).teardown(owner, ['10.0.0.5/24']);
    expect(odd.calls).toEqual(['iptables-restore', 'iptables-save']);
  });

  it('no record (an older ADD, a crash before the write): both backends; a failed teardown keeps the record', async () => {
    const host = fakeHost(nftRule);
    setRunner(host.runner);
    await ipMasqFor('iptables', dir).teardown(owner);
    expect(host.calls.sort()).toEqual(['ip6tables-save', 'iptables-save', 'nft', 'nft']);
    setRunner(fakeHost().runner);
    await ipMasqFor('nftables', dir).setup(['10.0.0.5/24'], owner);
    setRunner(async (cmd) => {
      throw new CommandError(cmd, [], 1, 'nft: busy');
    });
    await expect(ipMasqFor('nftables', dir).teardown(owner)).rejects.toThrow(/busy/);
    expect(record()).toBe('{"backend":"nftables"}\n');
  });

  it('a repeated ADD under the other backend drops the record: its rules may be in both now', async () => {
    setRunner(fakeHost().runner);
    await ipMasqFor('nftables', dir).setup(['10.0.0.5/24'], owner);
    await ipMasqFor('nftables', dir).setup(['10.0.0.5/24'], owner);
    expect(record()).toBe('{"backend":"nftables"}\n');
    await ipMasqFor('iptables', dir).setup(['10.0.0.5/24'], owner);
    expect(record()).toBeUndefined();
  });

  it('GC drops the records (and dead writers’ temp files) of attachments not valid, after their rules', async () => {
    setRunner(fakeHost().runner);
    const masq = ipMasqFor('nftables', dir);
    await masq.setup(['10.0.0.5/24'], owner);
    await masq.setup(['10.0.0.6/24'], { ...owner, containerID: 'gone' });
    await masq.setup(['10.0.0.7/24'], { ...owner, containerID: 'abc', ifName: 'net1' });
    writeFileSync(join(dir, 'mynet', 'gone2:eth0.tmp-999999999'), '{');
    await masq.gc('mynet', [{ containerID: 'abc', ifname: 'eth0' }]);
    expect(readdirSync(join(dir, 'mynet'))).toEqual(['abc:eth0']);
    await masq.teardown({ ...owner, containerID: 'abc', ifName: 'eth0' });
    expect(readdirSync(dir)).toEqual([]);
    await masq.setup(['10.0.0.5/24'], owner); // the directory is made again
    expect(record()).toBe('{"backend":"nftables"}\n');
    await masq.gc('mynet', []);
    expect(existsSync(join(dir, 'mynet'))).toBe(false);
  });

  it('names that reach the path are checked; one too long for a file is no record', async () => {
    expect(() => masqStatePath(dir, { ...owner, ifName: '../x' })).toThrow(/invalid ifName/);
    expect(() => masqStatePath(dir, { ...owner, ifName: '..' })).toThrow(/invalid ifName/);
    expect(() => masqStatePath(dir, { ...owner, containerID: '../x' })).toThrow(/invalid containerID/);
    expect(() => masqStatePath('rel/dir', owner)).toThrow(/absolute/);
    expect(masqStatePath(dir, owner)).toBe(join(dir, 'mynet', 'abc:eth0'));
    const long = { ...owner, containerID: 'a'.repeat(300) };
    expect(masqStatePath(dir, long)).toBeUndefined();
    const host = fakeHost();
    setRunner(host.runner);
    await ipMasqFor('nftables', dir).setup(['10.0.0.5/24'], long);
    expect(existsSync(join(dir, 'mynet'))).toBe(false);
    expect(ipMasqStateDir({})).toBe('/run/cni/ipmasq');
    expect(ipMasqStateDir({ TSCNI_IPMASQ_STATE_DIR: dir })).toBe(dir);
  });
});
