/**
 * containerd 1.6 (Debian's) + runc, driven by the real crictl, with our plugins and with Debian's reference
 * plugins as its CNI bin_dir: pods with hostPorts and bandwidth annotations get addresses, reach the
 * gateway and each other, answer on their hostPorts, are shaped, and leave nothing behind.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOutside, pings, startTcpServer, tcpRequest, type TcpServer } from '@tscni/testing/node';
import { expectNodeAsItWas, type NodeSnapshot } from '@tscni/testing/node-state';
import { startContainerd, type Containerd } from '@tscni/testing/interop/containerd';
import { RuntimeNode } from '@tscni/testing/interop/node';
import {
  PLUGIN_SETS,
  RESIDENT_SET,
  missingForInterop,
  runtimeNodeSnapshot,
  qdiscsOf,
} from '@tscni/testing/interop/common';
import { expectPlugindRan, startNodePlugind } from '@tscni/testing/interop/resident';
import type { PlugindProcess } from '@tscni/testing/plugind';

const SUBNET = '10.77.0';
const GATEWAY = `${SUBNET}.1`;
const NODE_IP = '198.51.100.1';

const conflist = {
  cniVersion: '1.0.0',
  name: 'interop',
  plugins: [
    {
      type: 'bridge',
      bridge: 'cni0',
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: `${SUBNET}.0/24` }]], routes: [{ dst: '0.0.0.0/0' }] },
    },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'bandwidth', capabilities: { bandwidth: true } },
    { type: 'firewall' },
  ],
};

interface Pod {
  id: string;
  ip: string;
  /** The pod netns as containerd pinned it, seen from the test's mount namespace. */
  netns: string;
}

const missing = missingForInterop(['containerd', 'containerd-shim-runc-v2', 'runc', 'ctr']);

// Resident mode too (docs/resident.md): the shims as containerd's bin_dir and tscni-plugind in the node's network and
// mount namespaces (containerd's own), found through TSCNI_PLUGIND_SOCKET, which containerd passes on to its plugins.
const SETS = [...PLUGIN_SETS, RESIDENT_SET];

for (const set of SETS) {
  describe.skipIf(!!missing)(
    `containerd 1.6 + crictl, CNI bin_dir = ${set.name}${missing ? ` — skipped: ${missing}` : ''}`,
    () => {
      let node: RuntimeNode;
      let cd: Containerd | undefined;
      let outside: string;
      let before: NodeSnapshot;
      let plugind: PlugindProcess | undefined;
      const pods: Pod[] = [];
      const servers: TcpServer[] = [];
      const stateDirs = () => [
        join(node.varLib, 'cni'),
        node.run,
        join(node.tmp, 'containerd/state'),
        join(node.tmp, 'containerd/root/io.containerd.grpc.v1.cri'),
      ];

      beforeAll(async () => {
        node = await RuntimeNode.start('cd');
        outside = addOutside(node.net);
        let env = process.env;
        if (set.resident) ({ daemon: plugind, env } = await startNodePlugind(node, set.bin, env));
        cd = await startContainerd(node, set.bin, conflist, env);
        before = runtimeNodeSnapshot(node.net, stateDirs());
      }, 240_000);

      afterAll(async () => {
        for (const s of servers) s.close();
        if (cd) {
          for (const p of pods) cd.crictl(['rmp', '-f', p.id], { allowFail: true });
          await cd.stop();
        }
        await plugind?.stop();
        await node?.destroy();
      }, 180_000);

      const runPod = (name: string, extra: Record<string, unknown>): Pod => {
        const file = join(node.tmp, `${name}.json`);
        writeFileSync(
          file,
          JSON.stringify({
            metadata: { name, namespace: 'interop', uid: `${name}-uid`, attempt: 0 },
            hostname: name,
            log_directory: join(node.tmp, 'logs', name),
            linux: { cgroup_parent: node.cgroupParent },
            ...extra,
          }),
        );
        const id = cd!.crictl(['runp', file]).stdout.trim();
        const inspect = JSON.parse(cd!.crictl(['inspectp', id]).stdout);
        const ns = (inspect.info.runtimeSpec.linux.namespaces as { type: string; path?: string }[]).find(
          (n) => n.type === 'network',
        )!.path!;
        const pod = { id, ip: inspect.status.network.ip as string, netns: node.viewOf(ns) };
        pods.push(pod);
        // What the runtime wrote lands in the node's private dirs (so the final snapshot sees it), never the host's.
        expect(existsSync(pod.netns), 'pinned pod netns').toBe(true);
        expect(existsSync(join(node.varLib, 'cni/networks/interop', pod.ip)), 'host-local lease').toBe(true);
        expect(existsSync(join(node.varLib, `cni/results/interop-${id}-eth0`)), 'libcni result cache').toBe(true);
        expect(existsSync(`/var/lib/cni/results/interop-${id}-eth0`), 'cache in the host /var/lib/cni').toBe(false);
        return pod;
      };

      const expectAddressed = (p: Pod) => {
        expect(p.ip, `address of pod ${p.id}`).toMatch(new RegExp(`^${SUBNET.replace(/\./g, '\\.')}\\.\\d+$`));
        expect(pings(p.netns, GATEWAY), `${p.ip} → gateway`).toBe(true);
      };

      it('a pod gets an address on the bridge and reaches the gateway', () => {
        expectAddressed(runPod('plain', {}));
      });

      it('a pod with kubernetes.io/ingress-bandwidth and egress-bandwidth annotations is shaped', () => {
        const shapedPod = runPod('shaped', {
          annotations: { 'kubernetes.io/ingress-bandwidth': '1M', 'kubernetes.io/egress-bandwidth': '2M' },
        });
        expectAddressed(shapedPod);
        // Ingress 1 Mbit/s as a tbf on the host side of the pod's veth; egress 2 Mbit/s redirected (ingress
        // qdisc on that veth) to an ifb carrying a tbf. Rates in bytes/s.
        const qdiscs = qdiscsOf(node.net);
        const tbf = qdiscs.filter((q) => q.kind === 'tbf');
        expect(tbf.map((q) => `${q.devKind}:${q.rate}`).sort(), JSON.stringify(qdiscs)).toEqual([
          'ifb:250000',
          'veth:125000',
        ]);
        expect(qdiscs.some((q) => q.kind === 'ingress' && q.devKind === 'veth')).toBe(true);
      });

      it('pods with hostPorts answer on them from outside the node, from the node and from another pod; pods reach each other', async () => {
        const web = runPod('web', { port_mappings: [{ protocol: 0, container_port: 8080, host_port: 18080 }] });
        const api = runPod('api', { port_mappings: [{ protocol: 0, container_port: 8080, host_port: 18081 }] });
        for (const p of [web, api]) expectAddressed(p);
        expect(new Set(pods.map((p) => p.ip)).size, 'unique addresses').toBe(pods.length);
        for (const p of pods)
          for (const q of pods.filter((q) => q !== p)) expect(pings(p.netns, q.ip), `${p.ip} → ${q.ip}`).toBe(true);

        servers.push(await startTcpServer(web.netns, 8080, 'web'), await startTcpServer(api.netns, 8080, 'api'));
        // From outside the node (PREROUTING DNAT) and from the node itself (OUTPUT DNAT).
        expect(tcpRequest(outside, NODE_IP, 18080, 5000)).toMatch(/^web /);
        expect(tcpRequest(outside, NODE_IP, 18081, 5000)).toMatch(/^api /);
        expect(tcpRequest(node.net.path, NODE_IP, 18080, 5000)).toMatch(/^web /);
        // Pod → another pod's hostPort through the node address, and a pod to its own hostPort (hairpin).
        expect(tcpRequest(web.netns, NODE_IP, 18081, 5000)).toMatch(/^api /);
        expect(tcpRequest(api.netns, NODE_IP, 18081, 5000)).toMatch(/^api /);
      });

      it('stopp + rmp leave no netns, veth, lease, rule, qdisc or cache file', () => {
        for (const s of servers.splice(0)) s.close();
        // Every sandbox containerd knows, including any a failed RunPodSandbox kept for a retry.
        const ids = cd!.crictl(['pods', '-q']).stdout.split('\n').filter(Boolean);
        for (const id of ids) cd!.crictl(['stopp', id]);
        for (const id of ids) cd!.crictl(['rmp', id]);
        expect(cd!.crictl(['pods', '-q']).stdout.trim()).toBe('');
        const after = runtimeNodeSnapshot(node.net, stateDirs());
        expectNodeAsItWas(before, after, {
          ids: pods.map((p) => p.id),
          ips: pods.map((p) => p.ip),
          netns: pods.map((p) => p.netns),
        });
      });

      it.runIf(!!set.resident)(
        "tscni-plugind ran every pod's bridge, portmap and bandwidth ADD and DEL (firewall is not one it runs)",
        async () => {
          const wanted = pods.flatMap((p) =>
            ['ADD', 'DEL'].flatMap((verb) =>
              ['bridge', 'portmap', 'bandwidth'].map((plugin) => `${verb} ${plugin} ${p.id}/eth0: exit 0`),
            ),
          );
          await expectPlugindRan(plugind!, wanted);
        },
      );
    },
  );
}
