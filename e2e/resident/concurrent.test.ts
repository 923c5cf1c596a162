// Pods side by side through the shims: one tscni-plugind runs every call of 6 pods' Kubernetes chains at once
// (ADDs together, CHECKs together, DELs together) in one process — bridge, host-local, portmap's and ipMasq's
// iptables, bandwidth's qdiscs, tuning — and each pod gets what it would alone; the node is as it was after.
import { describe, expect, it } from 'vitest';
import type { RuntimeConf } from '@tscni/libcni';
import { addrsIn } from '@tscni/testing/node';
import { expectNodeUnchanged } from '@tscni/testing/node-state';
import {
  CAPABILITIES,
  callsRun,
  chainFrom,
  EXEC_BIN,
  missingForResident,
  RESIDENT_BIN,
  ResidentNode,
} from './resident-node';

const missing = missingForResident();
const PODS = 6;

describe.skipIf(!!missing)(`resident mode, pods side by side${missing ? ` — skipped: ${missing}` : ''}`, () => {
  it(
    `${PODS} pods’ chains at once through the shims: distinct addresses, each pod’s port and qdiscs, nothing left`,
    { timeout: 300_000 },
    async (ctx) => {
      const rn = new ResidentNode('rsc');
      ctx.onTestFinished(() => rn.dispose());
      const daemon = await rn.daemon();
      const env = { TSCNI_PLUGIND_SOCKET: rn.socket() };
      await rn.lifecycle(rn.binDir('exec', chainFrom(EXEC_BIN)), env);
      const before = rn.snapshot();

      const { cni, list, left } = rn.network(rn.binDir('resident', chainFrom(RESIDENT_BIN)), env);
      const pods: RuntimeConf[] = Array.from({ length: PODS }, (_, i) => ({
        containerID: `side-by-side-${i}`,
        netNS: rn.node.addPod('c'),
        ifName: 'eth0',
        capabilityArgs: {
          ...CAPABILITIES,
          portMappings: [{ hostPort: 18200 + i, containerPort: 80, protocol: 'tcp' }],
        },
      }));
      rn.bunStarts();
      const results = (await Promise.all(pods.map((rt) => cni.addNetworkList(list, rt)))) as {
        ips: { address: string }[];
        interfaces: { name: string }[];
      }[];
      const ips = results.map((r) => r.ips[0].address);
      expect(new Set(ips).size).toBe(PODS);
      pods.forEach((rt, i) => expect(addrsIn(rt.netNS, 'eth0')).toEqual([ips[i]]));
      const nat = rn.node.exec('iptables-save', ['-t', 'nat']);
      pods.forEach((_, i) =>
        expect(nat).toMatch(new RegExp(`--dport ${18200 + i} .*--to-destination ${ips[i].split('/')[0]}:80`)),
      );
      const veths = left().veths.map((l) => l.ifname);
      expect(veths).toHaveLength(PODS);
      for (const veth of veths) expect(rn.node.exec('tc', ['qdisc', 'show', 'dev', veth]), veth).toMatch(/qdisc tbf/);

      await Promise.all(pods.map((rt) => cni.checkNetworkList(list, rt)));
      await Promise.all(pods.map((rt) => cni.delNetworkList(list, rt)));
      expect(rn.bunStarts()).toEqual([]);
      const calls = callsRun(daemon);
      expect(calls).toHaveLength(PODS * 12);
      expect(calls.filter((c) => !c.endsWith(': exit 0'))).toEqual([]);
      expect(left()).toEqual({ cache: [], leases: [], tuning: [], veths: [] });
      expectNodeUnchanged(before, rn.snapshot());
    },
  );
});
