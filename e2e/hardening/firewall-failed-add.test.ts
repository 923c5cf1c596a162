/**
 * A failed ADD leaves no firewall rule: bridge + host-local → firewall → a plugin that fails ADD, run by
 * libcni, then the runtime's DEL — which carries no prevResult, since ADD failed and nothing was cached.
 * The firewall cannot learn the pod's address from the DEL, so it must find its rules by their tag.
 *
 * The reference's weak spot, asserted here so a change in it is noticed: its iptables rules carry only the
 * address, so it leaves `-A CNI-FORWARD -d <ip>/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT` and
 * `-A CNI-FORWARD -s <ip>/32 -j ACCEPT` behind for good. Ours (both backends) leaves nothing: the whole node
 * state is compared.
 */
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CNIConfig, confListFromBytes, execInNetns } from '@tscni/libcni';
import { TestNode, binDir, implementations, missingForKernelTests } from '@tscni/testing/node';
import { RECORDER } from '@tscni/testing/fake-plugin';
import { expectNodeUnchanged, snapshot } from '@tscni/testing/node-state';

const missing = missingForKernelTests(['ip', 'nsenter', 'iptables-save', 'nft']);
const [ours, reference] = implementations('firewall');
const cases = [
  { name: 'tscni', which: 'ours' as const, backend: 'iptables', present: ours.present },
  { name: 'tscni', which: 'ours' as const, backend: 'nftables', present: ours.present },
  { name: 'reference', which: 'reference' as const, backend: 'iptables', present: reference.present },
];

describe.skipIf(!!missing)(
  `firewall after a failed ADD, DEL without prevResult${missing ? ` — skipped: ${missing}` : ''}`,
  () => {
    let node: TestNode;
    beforeAll(() => {
      node = new TestNode('fwf');
    });
    afterAll(() => node?.destroy());

    for (const c of cases) {
      it.skipIf(!c.present)(
        `${c.name} ${c.backend}: ${c.which === 'ours' ? 'nothing is left' : "leaves its two accept rules (the reference's weak spot)"}`,
        async () => {
          const dir = (d: string) => (
            mkdirSync(join(node.tmp, c.which + c.backend, d), { recursive: true }),
            join(node.tmp, c.which + c.backend, d)
          );
          const dirs = { ipam: dir('ipam'), cache: dir('cache'), rec: dir('rec') };
          const bins = binDir(dir('.'), { bridge: 'ours', 'host-local': 'ours', firewall: c.which });
          symlinkSync(RECORDER, join(bins, 'recorder'));
          const list = confListFromBytes(
            JSON.stringify({
              cniVersion: '1.0.0',
              name: `fwfail-${c.backend}`,
              plugins: [
                {
                  type: 'bridge',
                  bridge: 'fwfbr0',
                  isGateway: true,
                  ipam: { type: 'host-local', ranges: [[{ subnet: '10.151.0.0/24' }]], dataDir: dirs.ipam },
                },
                { type: 'firewall', backend: c.backend },
                { type: 'recorder', recordDir: dirs.rec },
              ],
            }),
          );
          const cni = new CNIConfig({
            binDirs: [bins],
            cacheDir: dirs.cache,
            exec: execInNetns(node.path),
            onStderr: () => {},
          });
          const pod = node.addPod();
          const rt = (containerID: string) => ({ containerID, netNS: pod, ifName: 'eth0' });
          // A full lifecycle first: the bridge and the firewall's shared chains exist from then on.
          await cni.addNetworkList(list, rt('fwfail-warm'));
          await cni.delNetworkList(list, rt('fwfail-warm'));
          const before = snapshot(node, { stateDirs: [dirs.ipam, dirs.cache] });

          writeFileSync(join(dirs.rec, 'fail-ADD'), '');
          await expect(cni.addNetworkList(list, rt('fwfail-1'))).rejects.toThrow(/ADD failure injected/);
          rmSync(join(dirs.rec, 'fail-ADD'));
          await cni.delNetworkList(list, rt('fwfail-1'));
          const dels = (await import('node:fs'))
            .readFileSync(join(dirs.rec, 'calls.jsonl'), 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l))
            .filter((r) => r.command === 'DEL' && r.env.CNI_CONTAINERID === 'fwfail-1');
          expect(
            dels.map((d) => d.conf.prevResult),
            'the DEL carried no prevResult',
          ).toEqual([undefined]);

          const after = snapshot(node, { stateDirs: [dirs.ipam, dirs.cache] });
          if (c.which === 'ours') {
            expectNodeUnchanged(before, after);
          } else {
            const left = after.iptables.filter((l) => !before.iptables.includes(l));
            expect(left).toEqual([
              expect.stringMatching(
                /^-A CNI-FORWARD -d 10\.151\.0\.\d+\/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT$/,
              ),
              expect.stringMatching(/^-A CNI-FORWARD -s 10\.151\.0\.\d+\/32 -j ACCEPT$/),
            ]);
            // (nft lists the same iptables-nft rules)
            expectNodeUnchanged({ ...before, iptables: [], nft: [] }, { ...after, iptables: [], nft: [] });
          }
        },
      );
    }
  },
);
