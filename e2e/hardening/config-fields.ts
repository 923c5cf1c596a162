/**
 * Every plugin's real NetConf field names, each with values that make sense for it, for property-based
 * config fuzzing. `plausible(tmp)` returns per field a list of well-typed values (so that some generated
 * configs get far into ADD); the fuzzer mixes them with values of random type. Paths always point under
 * the test's scratch dir `tmp` (or are deliberately traversing), never at system defaults.
 */
export type FieldValues = Record<string, unknown[]>;

const prevResult = (pod: string) => ({
  cniVersion: '1.0.0',
  interfaces: [{ name: 'fzbr0' }, { name: 'vethfz0' }, { name: 'eth0', sandbox: pod }],
  ips: [{ address: '10.252.0.5/24', gateway: '10.252.0.1', interface: 2 }],
});

const hostLocal = (tmp: string) => ({ type: 'host-local', subnet: '10.252.0.0/24', dataDir: `${tmp}/ipam` });

/** Values shared by fields of the same meaning across plugins. */
const common = (tmp: string, pod: string) => ({
  ipam: [
    hostLocal(tmp),
    { type: 'host-local', ranges: [[{ subnet: '10.252.1.0/24', gateway: '10.252.1.1' }]], dataDir: `${tmp}/ipam` },
    {},
    { type: 'static', addresses: [{ address: '10.252.2.2/24' }] },
  ],
  mtu: [1400, 0, 68, 65536, -1, 9000],
  master: ['fzup0', 'lo', 'nope0', '', '../x', 'a'.repeat(16)],
  mac: ['02:42:ac:11:00:02', 'ff:ff:ff:ff:ff:ff', 'zz:zz', ''],
  linkInContainer: [true, false],
  prevResult: [
    prevResult(pod),
    { cniVersion: '1.0.0' },
    { cniVersion: '1.0.0', interfaces: [], ips: [{ address: 'x' }] },
  ],
  dataDir: [`${tmp}/data`, 'rel-data', ''],
  ipMasqBackend: ['iptables', 'nftables', 'ebpf'],
});

/** The fields of each plugin (top level; for IPAM plugins, of the `ipam` section). */
export function pluginFields(tmp: string, pod: string): Record<string, FieldValues> {
  const c = common(tmp, pod);
  return {
    loopback: {},
    bridge: {
      bridge: ['fzbr0', 'fzbr1', '', 'a'.repeat(16), 'br;x'],
      isGateway: [true, false],
      isDefaultGateway: [true, false],
      forceAddress: [true, false],
      ipMasq: [true, false],
      ipMasqBackend: c.ipMasqBackend,
      mtu: c.mtu,
      hairpinMode: [true, false],
      promiscMode: [true, false],
      vlan: [0, 10, 4094, 4095, -1],
      vlanTrunk: [[{ id: 20 }], [{ minID: 10, maxID: 20 }], [{ minID: 20, maxID: 10 }], [{ id: 5000 }]],
      preserveDefaultVlan: [true, false],
      enabledad: [true, false],
      macspoofchk: [true, false],
      disableContainerInterface: [true, false],
      portIsolation: [true, false],
      mac: c.mac,
      ipam: c.ipam,
    },
    ptp: { ipMasq: [true, false], ipMasqBackend: c.ipMasqBackend, mtu: c.mtu, ipam: c.ipam },
    macvlan: {
      master: c.master,
      mode: ['bridge', 'private', 'vepa', 'passthru', 'l2'],
      mtu: c.mtu,
      mac: c.mac,
      linkInContainer: c.linkInContainer,
      bcqueuelen: [0, 100, -5],
      ipam: c.ipam,
    },
    ipvlan: {
      master: c.master,
      mode: ['l2', 'l3', 'l3s', 'bridge'],
      mtu: c.mtu,
      linkInContainer: c.linkInContainer,
      ipam: c.ipam,
    },
    vlan: {
      master: c.master,
      vlanId: [1, 10, 4094, 0, 4095, -3],
      mtu: c.mtu,
      linkInContainer: c.linkInContainer,
      ipam: c.ipam,
    },
    'host-device': {
      device: ['fzdev0', 'nope0', '../eth0', ''],
      hwaddr: c.mac,
      kernelpath: ['/sys/devices/virtual/net/x', 'rel/path'],
      pciBusID: ['0000:00:1f.6', 'x'],
      runtimeConfig: [{ deviceID: 'fzdev0' }],
      ipam: c.ipam,
    },
    dummy: { mtu: c.mtu, ipam: c.ipam },
    tap: {
      mac: c.mac,
      mtu: c.mtu,
      multiQueue: [true, false],
      owner: [0, 1000, -1, 2 ** 32],
      group: [0, 1000, -1],
      selinuxContext: ['system_u:system_r:svirt_t:s0:c1,c2', 'x;y', ''],
      bridge: ['fzbr0', 'nope0', '../x', ''],
      runtimeConfig: [{ mac: '02:42:ac:11:00:0a' }, { mac: 'x' }],
      ipam: c.ipam,
    },
    'host-local': {
      subnet: ['10.252.3.0/24', '10.252.3.7/24', 'fd00:fz::/64', '10.0.0.0/33', 'bogus'],
      rangeStart: ['10.252.3.10', '10.252.4.1', 'x'],
      rangeEnd: ['10.252.3.20', '10.252.3.5'],
      gateway: ['10.252.3.1', '10.252.3.0', 'gw'],
      ranges: [[[{ subnet: '10.252.5.0/30' }]], [[]], [[{ subnet: '10.252.5.0/24' }], [{ subnet: 'fd00:5::/120' }]]],
      routes: [[{ dst: '0.0.0.0/0' }], [{ dst: 'x' }], [{ dst: '10.9.0.0/16', gw: '10.252.3.1' }]],
      dataDir: c.dataDir,
      resolvConf: [`${tmp}/resolv.conf`, '/nonexistent/resolv.conf'],
    },
    static: {
      addresses: [
        [{ address: '10.252.6.2/24', gateway: '10.252.6.1' }],
        [{ address: '10.252.6.2' }],
        [{ address: 'fd00:6::2/64' }],
        [],
      ],
      routes: [[{ dst: '0.0.0.0/0', gw: '10.252.6.1' }], [{ dst: 'nope' }]],
      dns: [{ nameservers: ['10.96.0.10'], search: ['a.b'] }, { nameservers: 'x' }],
    },
    dhcp: {
      daemonSocketPath: [`${tmp}/no-daemon.sock`, ''],
      request: [[{ option: 'routers' }], [{ option: 999 }]],
      provide: [[{ option: 'host-name', value: 'x' }]],
      priority: [0, 10],
    },
    portmap: {
      snat: [true, false],
      markMasqBit: [13, 0, 31, 32, -1],
      externalSetMarkChain: ['KUBE-MARK-MASQ', 'X;Y', ''],
      masqAll: [true, false],
      backend: ['iptables', 'nftables', 'ebpf'],
      conditionsV4: [
        ['-s', '10.0.0.0/8'],
        ['!', '-s', '10.0.0.0/8'],
        ['-j', 'ACCEPT;'],
      ],
      conditionsV6: [['-s', 'fd00::/8']],
      runtimeConfig: [
        { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] },
        { portMappings: [{ hostPort: 70000, containerPort: 80, protocol: 'sctp' }] },
        { portMappings: [{ hostPort: 18081, containerPort: 0, protocol: 'udp', hostIP: 'x' }] },
      ],
      prevResult: c.prevResult,
    },
    bandwidth: {
      ingressRate: [1_000_000, 0, -1, 2 ** 53],
      ingressBurst: [100_000, 0, -1],
      egressRate: [1_000_000, 0, 8],
      egressBurst: [100_000, 0],
      runtimeConfig: [
        { bandwidth: { ingressRate: 1_000_000, ingressBurst: 100_000, egressRate: 1_000_000, egressBurst: 100_000 } },
        { bandwidth: { ingressRate: -5 } },
      ],
      prevResult: c.prevResult,
    },
    tuning: {
      sysctl: [
        { 'net.ipv4.conf.IFNAME.arp_filter': '1' },
        { 'net.ipv4.ip_forward': '1' },
        { '../../../etc/passwd': 'x' },
        { 'net.core.somaxconn': '1024' },
      ],
      mac: c.mac,
      promisc: [true, false],
      allmulti: [true, false],
      mtu: c.mtu,
      txQLen: [1000, -1],
      // not '' (it means the default, /run/cni/tuning: a test writes only under its own dirs)
      dataDir: c.dataDir.filter((d) => d !== ''),
      runtimeConfig: [{ mac: '02:42:ac:11:00:09' }, { mac: 7 }],
      prevResult: c.prevResult,
    },
    sbr: {
      table: [100, 0, -1, 2 ** 32],
      gateways: [['10.252.0.254'], ['10.0.0.1', '10.0.0.2'], ['x'], [], ['10.0.0.1', 'fd00::1', '10.0.0.3']],
      prevResult: c.prevResult,
    },
    vrf: { vrfname: ['fzvrf', '', 'a'.repeat(16), '../x'], table: [0, 42, -1, 2 ** 32], prevResult: c.prevResult },
    firewall: {
      backend: ['iptables', 'firewalld', 'nft'],
      iptablesAdminChainName: ['CNI-ADMIN', 'X Y', 'a'.repeat(40), ''],
      firewalldZone: ['trusted'],
      ingressPolicy: ['open', 'same-bridge', 'isolated'],
      prevResult: c.prevResult,
    },
    flannel: {
      subnetFile: [`${tmp}/subnet.env`, '/nonexistent/subnet.env'],
      dataDir: c.dataDir,
      delegate: [{ type: 'bridge', bridge: 'fzbr2' }, { type: '../bin/sh' }, {}],
      // flannel turns any ipam into host-local: keep its leases in the scratch dir, not /var/lib/cni/networks.
      ipam: c.ipam.map((i) =>
        i && typeof i === 'object' && !Array.isArray(i) ? { dataDir: `${tmp}/ipam`, ...(i as object) } : i,
      ),
      runtimeConfig: [{}],
    },
  };
}

/** The valid starting point per plugin (fields absent here are added only by the fuzzer). */
export function baseConfig(plugin: string, tmp: string): Record<string, unknown> {
  const ipamPlugins: Record<string, unknown> = {
    'host-local': hostLocal(tmp),
    static: { type: 'static', addresses: [{ address: '10.252.6.2/24' }] },
    dhcp: { type: 'dhcp', daemonSocketPath: `${tmp}/no-daemon.sock` },
  };
  // tuning keeps its link backups in dataDir (default /run/cni/tuning): always a scratch dir here
  const own = plugin === 'tuning' ? { dataDir: `${tmp}/data` } : {};
  return {
    cniVersion: '1.0.0',
    name: 'fuzznet',
    type: plugin,
    ...own,
    ...(ipamPlugins[plugin] ? { ipam: ipamPlugins[plugin] } : {}),
  };
}

export const IPAM_PLUGINS = ['host-local', 'static', 'dhcp'];

/**
 * Configs that pass validation (they may still fail in the kernel stage, e.g. a link kind this kernel lacks):
 * per plugin, "features" — each a list of patch variants, absent or one of them; `required` ones always present.
 * The fuzzer draws about half its configs from here, so that at least a third of each plugin's runs get past
 * validation into the kernel stage (the well-typed values of pluginFields are mixed, valid and invalid).
 */
export interface ValidShape {
  required: Record<string, unknown>[][];
  optional: Record<string, unknown>[][];
}

/** The subnet.env the valid flannel configs read (FuzzNode writes it; the mixed configs never name it). */
export const FLANNEL_SUBNET_ENV = 'flannel-subnet.env';

export function validShapes(tmp: string, pod: string): Record<string, ValidShape> {
  const prev = [{ prevResult: prevResult(pod) }];
  const ipam = [
    { ipam: hostLocal(tmp) },
    {
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet: '10.252.1.0/24', gateway: '10.252.1.1' }]],
        dataDir: `${tmp}/ipam`,
      },
    },
  ];
  const mtu = [{ mtu: 1400 }, { mtu: 1280 }];
  const flag = (k: string) => [{ [k]: true }, { [k]: false }];
  return {
    loopback: { required: [], optional: [] },
    bridge: {
      required: [ipam, [{ bridge: 'fzbr0' }, { bridge: 'fzbr1' }]],
      optional: [
        flag('isGateway'),
        flag('isDefaultGateway'),
        flag('forceAddress'),
        [{ ipMasq: true, ipMasqBackend: 'iptables' }, { ipMasq: true, ipMasqBackend: 'nftables' }, { ipMasq: false }],
        mtu,
        flag('hairpinMode'),
        flag('promiscMode'),
        [{ vlan: 10 }, { vlanTrunk: [{ id: 20 }], preserveDefaultVlan: true }],
        flag('enabledad'),
        flag('macspoofchk'),
        flag('portIsolation'),
        [{ mac: '02:42:ac:11:00:02' }],
      ],
    },
    ptp: {
      required: [ipam],
      optional: [
        [{ ipMasq: true, ipMasqBackend: 'iptables' }, { ipMasq: true, ipMasqBackend: 'nftables' }, { ipMasq: false }],
        mtu,
      ],
    },
    macvlan: {
      required: [ipam, [{ master: 'fzup0' }]],
      optional: [
        [{ mode: 'bridge' }, { mode: 'private' }, { mode: 'vepa' }],
        mtu,
        [{ mac: '02:42:ac:11:00:03' }],
        [{ bcqueuelen: 100 }],
      ],
    },
    ipvlan: {
      required: [ipam, [{ master: 'fzup0' }]],
      optional: [[{ mode: 'l2' }, { mode: 'l3' }, { mode: 'l3s' }], mtu],
    },
    vlan: { required: [ipam, [{ master: 'fzup0' }], [{ vlanId: 10 }, { vlanId: 4094 }]], optional: [mtu] },
    'host-device': { required: [[{ device: 'fzdev0' }]], optional: [ipam] },
    dummy: { required: [ipam], optional: [mtu] },
    tap: {
      required: [],
      optional: [ipam, mtu, [{ mac: '02:42:ac:11:00:05' }], flag('multiQueue'), [{ owner: 0, group: 0 }]],
    },
    'host-local': {
      required: [[{ subnet: '10.252.3.0/24' }]],
      optional: [
        [{ rangeStart: '10.252.3.10', rangeEnd: '10.252.3.20' }],
        [{ gateway: '10.252.3.1' }],
        [{ routes: [{ dst: '0.0.0.0/0' }] }, { routes: [{ dst: '10.9.0.0/16', gw: '10.252.3.1' }] }],
        [{ dataDir: `${tmp}/data` }],
      ],
    },
    static: {
      required: [
        [
          { addresses: [{ address: '10.252.6.2/24', gateway: '10.252.6.1' }] },
          { addresses: [{ address: 'fd00:6::2/64' }] },
        ],
      ],
      optional: [[{ routes: [{ dst: '10.9.0.0/16' }] }], [{ dns: { nameservers: ['10.96.0.10'], search: ['a.b'] } }]],
    },
    dhcp: {
      required: [[{ daemonSocketPath: `${tmp}/no-daemon.sock` }]],
      optional: [[{ request: [{ option: 'routers' }] }], [{ priority: 10 }]],
    },
    portmap: {
      required: [
        prev,
        [
          { runtimeConfig: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] } },
          { runtimeConfig: { portMappings: [{ hostPort: 18081, containerPort: 81, protocol: 'udp' }] } },
        ],
      ],
      optional: [
        flag('snat'),
        [{ markMasqBit: 13 }, { externalSetMarkChain: 'KUBE-MARK-MASQ' }],
        flag('masqAll'),
        [{ backend: 'iptables' }, { backend: 'nftables' }],
        [{ conditionsV4: ['-s', '10.0.0.0/8'] }],
      ],
    },
    bandwidth: {
      required: [prev],
      optional: [
        [{ ingressRate: 1_000_000, ingressBurst: 100_000 }],
        [{ egressRate: 1_000_000, egressBurst: 100_000 }],
        [
          {
            runtimeConfig: {
              bandwidth: { ingressRate: 2_000_000, ingressBurst: 200_000, egressRate: 2_000_000, egressBurst: 200_000 },
            },
          },
        ],
      ],
    },
    tuning: {
      required: [prev],
      optional: [
        [{ sysctl: { 'net.ipv4.conf.IFNAME.arp_filter': '1' } }, { sysctl: { 'net.core.somaxconn': '1024' } }],
        [{ mac: '02:42:ac:11:00:04' }],
        flag('promisc'),
        flag('allmulti'),
        mtu,
        [{ txQLen: 1000 }],
        [{ dataDir: `${tmp}/data` }],
      ],
    },
    firewall: {
      required: [prev],
      optional: [
        [{ backend: 'iptables' }, { backend: 'nftables' }],
        [{ iptablesAdminChainName: 'CNI-ADMIN' }],
        [{ ingressPolicy: 'open' }, { ingressPolicy: 'same-bridge' }, { ingressPolicy: 'isolated' }],
      ],
    },
    sbr: { required: [prev], optional: [[{ table: 100 }, { table: 150 }], [{ gateways: ['10.252.0.254'] }]] },
    vrf: { required: [prev, [{ vrfname: 'fzvrf' }, { vrfname: 'fzvrf1' }]], optional: [[{ table: 42 }]] },
    flannel: {
      // its ipam always keeps leases in the scratch dir (flannel would default to /var/lib/cni/networks)
      required: [
        [{ subnetFile: `${tmp}/${FLANNEL_SUBNET_ENV}`, dataDir: `${tmp}/flannel`, ipam: { dataDir: `${tmp}/ipam` } }],
      ],
      optional: [[{ delegate: { bridge: 'fzbr2' } }, { delegate: { bridge: 'fzbr3', isDefaultGateway: true } }]],
    },
  };
}
