import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestNode, missingForKernelTests } from '@tscni/testing/node';
import { iptablesSave, ipMasqFor, masqChainName, nftChainRules, nftMasqComment, setRunner, spawnRunner } from '../src';

const missing = missingForKernelTests(['nsenter', 'iptables-save', 'iptables-restore', 'ip6tables-restore']);

/** ipMasq's iptables rules in a throwaway namespace: every tool the code runs is run inside it. */
describe.skipIf(!!missing)(`ipMasq on a real kernel${missing ? ` — skipped: ${missing}` : ''}`, () => {
  let node: TestNode;
  beforeAll(() => {
    node = new TestNode('masq');
    setRunner((cmd, args, opts = {}) => spawnRunner(cmd, args, { ...opts, netns: opts.netns ?? node.path }));
  });
  afterAll(() => {
    setRunner(spawnRunner);
    node?.destroy();
  });
  let n = 0;
  const owner = () => ({ network: 'masqnet', containerID: `c${++n}`, ifName: 'eth0' });
  const rules = async (chain: string, family: 4 | 6 = 4) =>
    (await iptablesSave(family, 'nat', node.path)).split('\n').filter((l) => l.includes(chain));
  const masq = ipMasqFor('iptables');
  afterEach(async () => {
    for (let i = 1; i <= n; i++) await masq.teardown({ network: 'masqnet', containerID: `c${i}`, ifName: 'eth0' });
  });

  it('a repeated ADD leaves one jump per address and one rebuilt chain', async () => {
    const o = owner();
    const chain = masqChainName(o);
    await masq.setup(['10.80.0.5/24', 'fd80::5/64'], o);
    const once = [await rules(chain), await rules(chain, 6)];
    await masq.setup(['10.80.0.5/24', 'fd80::5/64'], o);
    expect([await rules(chain), await rules(chain, 6)]).toEqual(once);
    expect(once[0].filter((l) => l.startsWith('-A POSTROUTING'))).toHaveLength(1);
    expect(once[0]).toHaveLength(4); // the chain, its ACCEPT and MASQUERADE, the jump
    expect(once[1].filter((l) => l.startsWith('-A POSTROUTING -s fd80::5/128'))).toHaveLength(1);
  });

  it("an ADD over the reference's rules of the same attachment keeps one jump", async () => {
    const o = owner();
    const chain = masqChainName(o);
    const comment = `name: "${o.network}" id: "${o.containerID}"`;
    node.exec('iptables', ['-w', '-t', 'nat', '-N', chain]);
    node.exec('iptables', [
      '-w',
      '-t',
      'nat',
      '-A',
      'POSTROUTING',
      '-s',
      '10.80.0.6',
      '-j',
      chain,
      '-m',
      'comment',
      '--comment',
      comment,
    ]);
    await masq.setup(['10.80.0.6/24'], o);
    expect((await rules(chain)).filter((l) => l.startsWith('-A POSTROUTING'))).toHaveLength(1);
    expect(await rules(chain)).toContainEqual(expect.stringMatching(/-j MASQUERADE$/));
  });

  it('teardown with the used addresses removes everything, also a jump it did not expect; twice is fine', async () => {
    const o = owner();
    const chain = masqChainName(o);
    await masq.setup(['10.80.0.7/24'], o);
    await masq.teardown(o, ['10.80.0.7/24']);
    expect(await rules(chain)).toEqual([]);
    await masq.teardown(o, ['10.80.0.7/24']);
    await masq.setup(['10.80.0.7/24', '10.81.0.7/24'], o);
    await masq.teardown(o, ['10.80.0.7/24']); // the prevResult lost an address: the chain is still entered
    expect(await rules(chain)).toEqual([]);
  });

  it.skipIf(!!missingForKernelTests(['nft']))(
    "teardown with the used addresses of an nftables ADD still removes the ADD's nft rule",
    async () => {
      const o = owner();
      const nft = ipMasqFor('nftables');
      const mine = async () =>
        (await nftChainRules('inet', 'cni_plugins_masquerade', 'masq_checks', node.path)).filter(
          (r) => r.comment === nftMasqComment(o),
        );
      try {
        await nft.setup(['10.82.0.7/24'], o);
        expect(await mine()).toHaveLength(1);
        await masq.teardown(o, ['10.82.0.7/24']);
        expect(await mine()).toEqual([]);
        // And after an iptables ADD, the nft table is left as it is.
        await nft.setup(['10.82.0.8/24'], { ...o, ifName: 'eth1' });
        await masq.setup(['10.82.0.7/24'], o);
        await masq.teardown(o, ['10.82.0.7/24']);
        expect(await rules(masqChainName(o))).toEqual([]);
        expect(
          (await nftChainRules('inet', 'cni_plugins_masquerade', 'masq_checks', node.path)).map((r) => r.comment),
        ).toContain(nftMasqComment({ ...o, ifName: 'eth1' }));
      } finally {
        await nft.teardown({ ...o, ifName: 'eth1' });
      }
    },
  );
});
