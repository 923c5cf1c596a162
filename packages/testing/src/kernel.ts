/**
 * Test helpers for link kinds the kernel may lack (vlan, ipvlan, dummy…) and for unit tests that
 * record the commands a plugin would run instead of touching the kernel.
 */
import { spawnSync } from 'node:child_process';
import { setRunner, type CommandRunner, type RunOptions, type RunResult } from '@tscni/net/host';
import { missingForKernelTests } from './test-node';

const KERNEL_FEATURE: Record<string, string> = {
  vlan: 'CONFIG_VLAN_8021Q (8021q)',
  ipvlan: 'CONFIG_IPVLAN',
  macvlan: 'CONFIG_MACVLAN',
  dummy: 'CONFIG_DUMMY',
  vxlan: 'CONFIG_VXLAN',
  vrf: 'CONFIG_NET_VRF',
};
const MODULE: Record<string, string> = {
  vlan: '8021q',
  ipvlan: 'ipvlan',
  macvlan: 'macvlan',
  dummy: 'dummy',
  vxlan: 'vxlan',
  vrf: 'vrf',
};
const probed = new Map<string, string | undefined>();

/**
 * Why links of `kind` cannot be made here (naming the kernel feature), or undefined when they can.
 * Tries `modprobe` once, then creates one in a throwaway namespace (on a veth master when it needs one).
 */
export function missingLinkKind(kind: 'vlan' | 'ipvlan' | 'macvlan' | 'dummy' | 'vxlan' | 'vrf'): string | undefined {
  if (probed.has(kind)) return probed.get(kind);
  spawnSync('modprobe', ['-q', MODULE[kind]], { stdio: 'ignore' });
  const ns = `kprobe${process.pid}${kind}`;
  const inNs = (args: string[]) => spawnSync('ip', ['netns', 'exec', ns, 'ip', ...args], { encoding: 'utf8' });
  let why: string | undefined;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) return 'needs ip netns add (root)';
  try {
    const master = kind === 'dummy' || kind === 'vxlan' || kind === 'vrf' ? [] : ['link', 'kpm'];
    if (master.length) inNs(['link', 'add', 'kpm', 'type', 'veth', 'peer', 'name', 'kpp']);
    const type = {
      vlan: ['vlan', 'id', '7'],
      ipvlan: ['ipvlan', 'mode', 'l2'],
      macvlan: ['macvlan', 'mode', 'bridge'],
      dummy: ['dummy'],
      vxlan: ['vxlan', 'id', '7', 'dstport', '8472'],
      vrf: ['vrf', 'table', '7'],
    }[kind];
    const r = inNs(['link', 'add', ...master, 'name', 'kprobe', 'type', ...type]);
    if (r.status !== 0) why = `kernel lacks ${KERNEL_FEATURE[kind]}: ${(r.stderr || '').trim().split('\n')[0]}`;
  } finally {
    spawnSync('ip', ['netns', 'delete', ns]);
  }
  probed.set(kind, why);
  return why;
}

/**
 * The probe a suite for a plugin making links of `kind` starts with: `missing`, why no kernel test runs here
 * at all (root, `tools`); `lacking`, when they can run, why links of `kind` cannot be made (the kernel feature).
 */
export function probeLinkKind(
  kind: Parameters<typeof missingLinkKind>[0],
  tools: string[] = ['ip', 'nsenter'],
): { missing?: string; lacking?: string } {
  const missing = missingForKernelTests(tools);
  return { missing, lacking: missing ? undefined : missingLinkKind(kind) };
}

export interface RecordedCall {
  cmd: string;
  args: readonly string[];
  netns?: string;
  input?: string;
}

/**
 * Swap in a runner that records every command and answers with `respond` (return stdout, or throw a
 * CommandError to simulate a failure). `restore()` puts the real runner back.
 */
export function recordCommands(respond: (call: RecordedCall) => string | RunResult | undefined): {
  calls: RecordedCall[];
  restore: () => void;
} {
  const calls: RecordedCall[] = [];
  const fake: CommandRunner = async (cmd: string, args: readonly string[], opts: RunOptions = {}) => {
    const call = { cmd, args, netns: opts.netns, input: opts.input };
    calls.push(call);
    const out = respond(call);
    return typeof out === 'object' ? out : { stdout: out ?? '', stderr: '' };
  };
  const prev = setRunner(fake);
  return { calls, restore: () => void setRunner(prev) };
}
