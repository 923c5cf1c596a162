#!/usr/bin/env node
// Generates corpus.json: malformed inputs for every plugin, each with the CNI error code it must get.
// The corpus is data kept in the repo (review its diff when this script changes); bad-input.test.ts runs it.
//   node e2e/hardening/make-corpus.mjs
// Placeholders in stdin/env: $TMP (the test's scratch dir), $POD (a pod netns path).
import { writeFileSync } from 'node:fs';

const ipam = { type: 'host-local', subnet: '10.250.0.0/24', dataDir: '$TMP/ipam' };
const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'hbr0' }, { name: 'vethhard0' }, { name: 'eth0', sandbox: '$POD' }],
  ips: [{ address: '10.250.0.5/24', gateway: '10.250.0.1', interface: 2 }],
};
/** A valid config per plugin; each case breaks one thing. */
const BASE = {
  loopback: { type: 'loopback' },
  bridge: { type: 'bridge', bridge: 'hbr0', ipam },
  ptp: { type: 'ptp', ipam },
  macvlan: { type: 'macvlan', master: 'hup0', ipam },
  ipvlan: { type: 'ipvlan', master: 'hup0', ipam },
  vlan: { type: 'vlan', master: 'hup0', vlanId: 10, ipam },
  'host-device': { type: 'host-device', device: 'hdev0', ipam },
  dummy: { type: 'dummy', ipam },
  tap: { type: 'tap', ipam },
  'host-local': { type: 'host-local', ipam: { type: 'host-local', subnet: '10.250.0.0/24', dataDir: '$TMP/ipam' } },
  static: { type: 'static', ipam: { type: 'static', addresses: [{ address: '10.251.0.2/24' }] } },
  dhcp: { type: 'dhcp', ipam: { type: 'dhcp', daemonSocketPath: '$TMP/no-daemon.sock' } },
  portmap: {
    type: 'portmap',
    runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
    prevResult,
  },
  bandwidth: { type: 'bandwidth', ingressRate: 1000000, ingressBurst: 100000, prevResult },
  tuning: { type: 'tuning', sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1' }, dataDir: '$TMP/tuning', prevResult },
  firewall: { type: 'firewall', prevResult },
  flannel: { type: 'flannel', subnetFile: '$TMP/subnet.env', dataDir: '$TMP/flannel' },
  sbr: { type: 'sbr', prevResult },
  vrf: { type: 'vrf', vrfname: 'hvrf0', prevResult },
};
const IPAM_PLUGINS = ['host-local', 'static', 'dhcp'];
/** The base config with `patch` applied (to the `ipam` section for IPAM plugins, which read only that). */
const conf = (plugin, patch = {}) => {
  const base = { cniVersion: '1.0.0', name: 'hardnet', ...BASE[plugin] };
  const ipamPatch = Object.fromEntries(Object.entries(patch).filter(([k]) => !['cniVersion', 'name'].includes(k)));
  const topPatch = Object.fromEntries(Object.entries(patch).filter(([k]) => ['cniVersion', 'name'].includes(k)));
  if (IPAM_PLUGINS.includes(plugin)) return { ...base, ...topPatch, ipam: { ...base.ipam, ...ipamPatch } };
  return { ...base, ...patch };
};
const json = (o) => JSON.stringify(o);

/** Malformed inputs every plugin must refuse the same way (the skeleton's contract). */
function genericCases(plugin) {
  const good = json(conf(plugin));
  return [
    ['broken JSON', {}, '{"cniVersion": "1.0.0", "name": ', 6],
    ['truncated config', {}, good.slice(0, Math.floor(good.length / 2)), 6],
    ['empty stdin', {}, '', 6],
    ['a JSON array', {}, '[]', 6],
    ['a JSON string', {}, '"hello"', 6],
    ['NUL bytes', {}, '\u0000\u0000', 6],
    // Expanded by the test: kept small in the file.
    ['a huge broken input', {}, { prefix: '{"cniVersion":"1.0.0","name":"', repeat: 'A', times: 4 << 20 }, 6],
    ['an unknown cniVersion', {}, json(conf(plugin, { cniVersion: '9.9.9' })), 1],
    ['a non-semver cniVersion', {}, json(conf(plugin, { cniVersion: 'latest' })), 1],
    ['a numeric cniVersion', {}, json(conf(plugin, { cniVersion: 1 })), 6],
    ['a network name with a path', {}, json(conf(plugin, { name: '../../etc/cron.d' })), 7],
    ['a network name with a newline', {}, json(conf(plugin, { name: 'net\nX' })), 7],
    ['a network name with shell metacharacters', {}, json(conf(plugin, { name: 'n;rm -rf /' })), 7],
    ['a numeric network name', {}, json(conf(plugin, { name: 42 })), 7],
    ['an unknown CNI_COMMAND', { CNI_COMMAND: 'DESTROY' }, good, 4],
    ['a missing CNI_CONTAINERID', { CNI_CONTAINERID: null }, good, 4],
    ['a missing CNI_IFNAME', { CNI_IFNAME: null }, good, 4],
    ['a missing CNI_NETNS', { CNI_NETNS: null }, good, 4],
    ['a missing CNI_PATH', { CNI_PATH: null }, good, 4],
    ['a container id with a path', { CNI_CONTAINERID: '../../../etc/passwd' }, good, 4],
    ['a container id with shell metacharacters', { CNI_CONTAINERID: 'c;touch /tmp/tscni-pwned' }, good, 4],
    ['a container id with a newline', { CNI_CONTAINERID: 'abc\n-A INPUT -j ACCEPT' }, good, 4],
    ['a container id starting with a dash', { CNI_CONTAINERID: '-rf' }, good, 4],
    ['an over-long ifname', { CNI_IFNAME: 'eth0123456789abcdef' }, good, 4],
    ['an ifname with a slash', { CNI_IFNAME: 'eth0/../lo' }, good, 4],
    ['an ifname ..', { CNI_IFNAME: '..' }, good, 4],
    ['an ifname with a space', { CNI_IFNAME: 'eth 0' }, good, 4],
    ['an ifname with a newline', { CNI_IFNAME: 'e\nlink del lo' }, good, 4],
    ['an ifname with a colon', { CNI_IFNAME: 'eth0:1' }, good, 4],
    ['malformed CNI_ARGS', { CNI_ARGS: 'IP' }, good, 4, ['host-local', 'static', 'bridge', 'macvlan', 'tuning']],
    ['unknown CNI_ARGS without IgnoreUnknown', { CNI_ARGS: 'FOO=bar' }, good, 4, ['host-local', 'static']],
  ]
    .filter((c) => !c[4] || c[4].includes(plugin))
    .map(([what, env, stdin, code]) => ({ id: `${plugin}: ${what}`, plugin, command: 'ADD', env, stdin, code }));
}

/** Field-level mistakes, per plugin: code 7 naming the field. */
const SPECIFIC = {
  bridge: [
    ['a bridge name too long', { bridge: 'bridge0123456789' }, /bridge/],
    ['a bridge name with a newline', { bridge: 'br\nlink del lo' }, /bridge/],
    ['an mtu of the wrong type', { mtu: 'big' }, /mtu/],
    ['a negative mtu', { mtu: -1 }, /mtu/],
    ['a vlan out of range', { vlan: 5000 }, /vlan/],
    ['an unknown ipMasqBackend', { ipMasqBackend: 'pf' }, /ipMasqBackend/],
    ['hairpin with promisc', { hairpinMode: true, promiscMode: true }, /hairpin|promisc/i],
    ['a subnet with host bits', { ipam: { ...ipam, subnet: '10.250.0.7/24' } }, /host bits/],
  ],
  ptp: [
    ['an mtu of the wrong type', { mtu: '1500' }, /mtu/],
    ['an unknown ipMasqBackend', { ipMasqBackend: 'ebtables' }, /ipMasqBackend/],
  ],
  macvlan: [
    ['an unknown mode', { mode: 'turbo' }, /mode/],
    ['a master with a slash', { master: '../eth0' }, /master/],
    ['an mtu of the wrong type', { mtu: [] }, /mtu/],
  ],
  ipvlan: [['an unknown mode', { mode: 'l4' }, /mode/]],
  vlan: [
    ['a vlanId out of range', { vlanId: 4095 }, /vlanId/],
    ['a missing vlanId', { vlanId: undefined }, /vlanId/],
  ],
  'host-device': [['a device name with a newline', { device: 'eth1\nlink del lo' }, /device/]],
  'host-local': [
    ['a subnet that is not a CIDR', { subnet: 'ten.zero/8' }, /subnet|CIDR/i],
    ['a subnet with host bits', { subnet: '10.250.0.9/24' }, /host bits/],
    ['a network too small', { subnet: '10.250.0.0/31' }, /too small/],
    ['a rangeStart outside the subnet', { rangeStart: '10.9.9.9' }, /rangeStart|range/],
    [
      'overlapping range sets',
      { subnet: undefined, ranges: [[{ subnet: '10.250.0.0/24' }], [{ subnet: '10.250.0.0/25' }]] },
      /overlap/,
    ],
    ['a dataDir that is relative', { dataDir: '../../etc' }, /dataDir/],
    ['a gateway that is not an IP', { gateway: 'router' }, /gateway/],
  ],
  static: [
    ['an address without a prefix', { addresses: [{ address: '10.251.0.2' }] }, /address|CIDR/i],
    ['a gateway that is not an IP', { addresses: [{ address: '10.251.0.2/24', gateway: 'gw' }] }, /gateway/],
    ['a route dst that is not a CIDR', { routes: [{ dst: 'everywhere' }] }, /dst|route/i],
  ],
  portmap: [
    [
      'a hostPort out of range',
      { runtimeConfig: { portMappings: [{ hostPort: 70000, containerPort: 80, protocol: 'tcp' }] } },
      /hostPort|port/i,
    ],
    [
      'a containerPort of 0',
      { runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 0, protocol: 'tcp' }] } },
      /containerPort|port/i,
    ],
    [
      'an unknown protocol',
      { runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'icmp' }] } },
      /protocol/,
    ],
    [
      'a hostIP that is not an IP',
      { runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '1.2.3' }] } },
      /hostIP/,
    ],
    ['a markMasqBit out of range', { markMasqBit: 40 }, /markMasqBit/],
    ['conditions with shell metacharacters', { conditionsV4: ['-s 1.2.3.4; rm -rf /'] }, /conditions/],
    ['an externalSetMarkChain with a newline', { externalSetMarkChain: 'KUBE\n-F' }, /externalSetMarkChain/],
  ],
  bandwidth: [
    ['a rate without a burst', { ingressBurst: undefined }, /burst/],
    ['a burst over 4GB', { ingressBurst: 5e10 }, /burst/],
    ['a negative rate', { ingressRate: -5 }, /ingressRate|rate/],
    ['a rate of the wrong type', { ingressRate: 'fast' }, /ingressRate/],
  ],
  tuning: [
    ['a sysctl outside net', { sysctl: { 'kernel.hostname': 'evil' } }, /sysctl/],
    ['a sysctl key with a path', { sysctl: { 'net/../../kernel/hostname': 'evil' } }, /sysctl/],
    ['a sysctl value with a newline', { sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1\n2' } }, /sysctl|value/],
    ['a mac that is not a MAC', { mac: 'zz:zz:zz:zz:zz:zz' }, /mac/],
    ['a negative mtu', { mtu: -5 }, /mtu/],
  ],
  firewall: [
    ['an unknown ingressPolicy', { ingressPolicy: 'paranoid' }, /ingressPolicy/],
    ['an unknown backend', { backend: 'pf' }, /backend/],
    ['an admin chain name with a newline', { iptablesAdminChainName: 'CNI-ADMIN\n-F' }, /iptablesAdminChainName/],
  ],
  tap: [
    ['a mac that is not a MAC', { mac: 'zz' }, /mac/],
    ['a negative owner', { owner: -1 }, /owner/],
    ['a group over 32 bits', { group: 2 ** 32 }, /group/],
    ['multiQueue of the wrong type', { multiQueue: 'yes' }, /multiQueue/],
    ['a selinuxContext with shell metacharacters', { selinuxContext: 'x; rm -rf /' }, /selinuxContext/],
    ['a bridge name with a slash', { bridge: 'a/b' }, /bridge/],
  ],
  sbr: [
    ['three gateways', { gateways: ['10.0.0.1', 'fd00::1', '10.0.0.3'] }, /gateways/],
    ['a gateway that is not an IP', { gateways: ['nope'] }, /gateways/],
    ['a negative table', { table: -1 }, /table/],
  ],
  vrf: [
    ['a missing vrfname', { vrfname: undefined }, /vrf name/],
    ['a vrfname too long', { vrfname: 'vrf0123456789abcdef' }, /vrfname/],
    ['a vrfname with a slash', { vrfname: '../x' }, /vrfname/],
    ['a table of the wrong type', { table: 'main' }, /table/],
  ],
  flannel: [
    ['a name in the delegate', { delegate: { name: 'x' } }, /name/],
    ['a delegate type of the wrong type', { delegate: { type: 7 } }, /type/],
  ],
};

const cases = [];
for (const plugin of Object.keys(BASE)) {
  cases.push(...genericCases(plugin));
  for (const [what, patch, msg] of SPECIFIC[plugin] ?? []) {
    cases.push({
      id: `${plugin}: ${what}`,
      plugin,
      command: 'ADD',
      env: {},
      stdin: json(conf(plugin, patch)),
      code: 7,
      msg: msg.source,
    });
  }
}
writeFileSync(new URL('./corpus.json', import.meta.url), JSON.stringify(cases, null, 1) + '\n');
console.log(`${cases.length} cases`);
