import { describe, expect, it } from 'vitest';
import type { PodSandboxConfig } from '../src/cri-types';
import { planSysctls } from '../src/pod-sysctls';

const config = (sysctls: Record<string, string>, ns: { network?: string; ipc?: string } = {}) =>
  ({
    linux: {
      sysctls,
      security_context: { namespace_options: { network: ns.network ?? 'POD', pid: 'POD', ipc: ns.ipc ?? 'POD' } },
    },
  }) as unknown as PodSandboxConfig;

describe('planSysctls', () => {
  it('puts net.* in the pod netns and the IPC sysctls in the pause IPC namespace, dotted or slashed', () => {
    const plan = planSysctls(
      config({
        'net.ipv4.ip_local_port_range': '1024 65000',
        'net/ipv4/conf/eth0.100/rp_filter': '2',
        'kernel.shmmax': '1',
        'kernel.msgmnb': '2',
        'kernel.sem': '250 32000 32 128',
        'fs.mqueue.msg_max': '20',
      }),
      'POD',
    );
    expect(plan.net.map((s) => s.path)).toEqual(['net/ipv4/ip_local_port_range', 'net/ipv4/conf/eth0.100/rp_filter']);
    expect(plan.ipc.map((s) => s.path)).toEqual(['kernel/shmmax', 'kernel/msgmnb', 'kernel/sem', 'fs/mqueue/msg_max']);
    expect(planSysctls(config({}), 'POD')).toEqual({ net: [], ipc: [] });
  });

  it.each([
    [{ 'kernel.panic': '1' }, /not in a separate kernel namespace/],
    [{ 'vm.overcommit_memory': '1' }, /not in a separate kernel namespace/],
    [{ 'kernel.hostname': 'x' }, /not in a separate kernel namespace/],
    [{ net: '1' }, /not in a separate kernel namespace/],
    [{ 'net/../kernel/panic': '1' }, /not a valid sysctl name/],
    [{ 'net.ipv4/../../x': '1' }, /not a valid sysctl name/],
    [{ 'net..ipv4': '1' }, /not a valid sysctl name/],
    [{ 'net.ipv4.ip_forward': '1\n2' }, /one line/],
  ])('refuses %j', (sysctls, why) => {
    expect(() => planSysctls(config(sysctls), 'POD')).toThrow(why);
  });

  it("refuses sysctls of the node's namespaces for pods that share them", () => {
    expect(() => planSysctls(config({ 'net.ipv4.ip_forward': '1' }, { network: 'NODE' }), 'NODE')).toThrow(
      /node's network namespace/,
    );
    expect(() => planSysctls(config({ 'kernel.shmmax': '1' }, { ipc: 'NODE' }), 'POD')).toThrow(/node's IPC namespace/);
  });
});
