/** Pods of the agent suites: each runs through a node's harness and serves TCP on :80, answering its name. */
import { expect } from 'vitest';
import { pings, startTcpServer, tcpRequest, type TcpServer } from '@tscni/testing/node';
import { podJson, type PluginChoice } from '@tscni/testing/cluster';
import type { AgentNode } from './agent-cluster';

/** kube-flannel's chain, every plugin ours. */
export const OURS: PluginChoice = {
  flannel: 'ours',
  bridge: 'ours',
  'host-local': 'ours',
  portmap: 'ours',
  loopback: 'ours',
};

export interface AgentPod {
  name: string;
  id: string;
  ip: string;
  /** The pod's IPv6 address on a dual-stack network (the CRI status's additional_ips). */
  ip6?: string;
  netns: string;
  an: AgentNode;
}

export class ServedPods {
  readonly pods: AgentPod[] = [];
  private readonly servers: TcpServer[] = [];

  async run(an: AgentNode, name: string): Promise<AgentPod> {
    const id = await an.pn.crictl.runp(podJson(name));
    const { status, info } = await an.pn.crictl.inspectp(id);
    an.pn.podNetns.push(info.netns);
    const ip6 = ((status.network.additional_ips ?? []) as { ip: string }[])
      .map((a) => a.ip)
      .find((a) => a.includes(':'));
    const p: AgentPod = { name, id, ip: status.network.ip as string, ip6, netns: info.netns as string, an };
    this.pods.push(p);
    this.servers.push(await startTcpServer(p.netns, 80, name));
    return p;
  }

  byName(name: string): AgentPod {
    return this.pods.find((p) => p.name === name)!;
  }

  /** Every pod pings every other and gets the other's TCP answer (which names the caller's address); over IPv6 too when both have one. */
  expectFullMesh(): void {
    for (const from of this.pods) {
      for (const to of this.pods.filter((p) => p !== from)) {
        expect(pings(from.netns, to.ip), `${from.name} → ${to.name} ping`).toBe(true);
        expect(tcpRequest(from.netns, to.ip, 80), `${from.name} → ${to.name} TCP`).toBe(`${to.name} ${from.ip}`);
        if (!from.ip6 || !to.ip6) continue;
        expect(pings(from.netns, to.ip6), `${from.name} → ${to.name} ping over IPv6`).toBe(true);
        expect(tcpRequest(from.netns, to.ip6, 80), `${from.name} → ${to.name} TCP over IPv6`).toBe(
          `${to.name} ${from.ip6}`,
        );
      }
    }
  }

  close(): void {
    for (const s of this.servers) s.close();
  }
}
