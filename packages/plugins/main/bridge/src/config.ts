import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs } from '@tscni/cni';
import { CniError, ErrorCode, invalidConfig } from '@tscni/cni/errors';
import { emptyAsUnset } from '@tscni/cni/go-json';
import { plainBoolean, plainObject, plainString, type PlainKind, type PlainObject } from '@tscni/cni/plain-decode';
import { validateNetworkName } from '@tscni/cni/validate';
import type { IpMasqBackend } from '@tscni/net/netfilter';
import { ipMasqFor } from '@tscni/net/netfilter/ipmasq';
import { ipMasqStateDir } from '@tscni/net/netfilter/ipmasq-state';
import { ipamTypeOf } from '@tscni/net/pod/link-attachment';
import {
  ipamField,
  isMac,
  linkNameField,
  mtuField,
  plainIpam,
  plainLinkName,
  plainMtu,
} from '@tscni/net/pod/link-conf';

const vlanId = lazySchema(() => z.number().int().min(1).max(4094));

const TrunkEntry = lazySchema(() =>
  z
    .object({ id: vlanId.optional(), minID: vlanId.optional(), maxID: vlanId.optional() })
    .passthrough()
    .superRefine((t, ctx) => {
      const range = t.minID !== undefined || t.maxID !== undefined;
      if (t.id === undefined && !range)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: 'incorrect trunk id parameter: want id or minID and maxID',
        });
      if (range && (t.minID === undefined || t.maxID === undefined))
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'minID and maxID must be set together' });
      if (t.minID !== undefined && t.maxID !== undefined && t.minID > t.maxID)
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'minID is greater than maxID in trunk parameter' });
    }),
);

/** NetConf of the bridge plugin (cni.md §3.1). */
export const BridgeConfSchema = lazySchema(() =>
  z
    .object({
      name: z.string().optional(),
      bridge: linkNameField.default('cni0'),
      isGateway: z.boolean().default(false),
      isDefaultGateway: z.boolean().default(false),
      forceAddress: z.boolean().default(false),
      ipMasq: z.boolean().default(false),
      ipMasqBackend: emptyAsUnset(z.enum(['iptables', 'nftables'])),
      mtu: mtuField.optional(),
      hairpinMode: z.boolean().default(false),
      promiscMode: z.boolean().default(false),
      vlan: z
        .number()
        .int()
        .min(0, 'invalid VLAN ID (must be between 0 and 4094)')
        .max(4094, 'invalid VLAN ID (must be between 0 and 4094)')
        .default(0),
      vlanTrunk: z.array(TrunkEntry).optional(),
      preserveDefaultVlan: z.boolean().default(false),
      macspoofchk: z.boolean().default(false),
      enabledad: z.boolean().default(false),
      disableContainerInterface: z.boolean().default(false),
      portIsolation: z.boolean().default(false),
      ipam: ipamField.optional(),
    })
    .passthrough(),
);

export const BridgeDelSchema = lazySchema(() => BridgeConfSchema.schema.extend({ bridge: z.string().default('cni0') }));

const off = { kind: plainBoolean, value: false };
/** BridgeConfSchema for plain-decode.ts (`bridge` as the ADD or the DEL reads it); a trunk is the schema's business. */
const plainBridgeConf = (bridge: PlainKind): PlainObject =>
  plainObject({
    name: plainString,
    bridge: { kind: bridge, value: 'cni0' },
    isGateway: off,
    isDefaultGateway: off,
    forceAddress: off,
    ipMasq: off,
    ipMasqBackend: { kind: { k: 'enum', values: ['iptables', 'nftables'] }, emptyAsUnset: true },
    mtu: plainMtu,
    hairpinMode: off,
    promiscMode: off,
    vlan: { kind: { k: 'number', int: true, min: 0, max: 4094 }, value: 0 },
    vlanTrunk: { k: 'never' },
    preserveDefaultVlan: off,
    macspoofchk: off,
    enabledad: off,
    disableContainerInterface: off,
    portIsolation: off,
    ipam: plainIpam(),
  });
let plainAdd: PlainObject | undefined;
let plainDel: PlainObject | undefined;
/** For the test that holds them to the schemas. */
export const plainBridgeConfs = () => ({
  add: (plainAdd ??= plainBridgeConf(plainLinkName)),
  del: (plainDel ??= plainBridgeConf(plainString)),
});

export type BridgeConf = z.infer<typeof BridgeConfSchema> & {
  /** The container MAC (CNI_ARGS MAC < args.cni.mac < runtimeConfig.mac). */
  mac?: string;
  /** Trunk VLANs as sorted, de-duplicated ids. */
  trunk: number[];
  ipamType?: string;
  /** ipMasq's rules: written with `ipMasqBackend` (recorded), removed and checked in the recorded backend, collected in every one. */
  masq: IpMasqBackend;
};

/** Parse and cross-check the config the way the reference's loadNetConf does, plus the MAC. */
export function loadBridgeConf(args: CmdArgs, opts: { forDel?: boolean } = {}): BridgeConf {
  // DEL never touches the bridge itself: like the reference's, it must not fail on the bridge's name
  const plain = plainBridgeConfs();
  const parsed = opts.forDel ? args.parse(BridgeDelSchema, plain.del) : args.parse(BridgeConfSchema, plain.add);
  const conf: BridgeConf = {
    ...parsed,
    trunk: trunkIds(parsed.vlanTrunk),
    ipamType: ipamTypeOf(parsed),
    masq: ipMasqFor(parsed.ipMasqBackend, ipMasqStateDir(args.env)),
  };
  if (conf.isDefaultGateway) conf.isGateway = true;
  if (conf.ipMasq) validateNetworkName(args.netConf.name);
  if (conf.vlan && conf.trunk.length)
    throw invalidConfig('vlanTrunk', 'cannot set vlan and vlanTrunk at the same time');
  if (conf.hairpinMode && conf.promiscMode)
    throw invalidConfig('hairpinMode', 'cannot set hairpin mode and promiscuous mode at the same time');
  if (conf.disableContainerInterface && conf.ipamType)
    throw invalidConfig('disableContainerInterface', 'cannot use IPAM when disableContainerInterface is set');
  if (!opts.forDel) conf.mac = containerMac(args);
  return conf;
}

function trunkIds(trunk: z.infer<typeof TrunkEntry>[] | undefined): number[] {
  const ids = new Set<number>();
  for (const t of trunk ?? []) {
    if (t.id !== undefined) ids.add(t.id);
    if (t.minID !== undefined && t.maxID !== undefined) for (let v = t.minID; v <= t.maxID; v++) ids.add(v);
  }
  return [...ids].sort((a, b) => a - b);
}

/** The container MAC, lowest precedence first: CNI_ARGS `MAC`, `args.cni.mac`, `runtimeConfig.mac`. */
function containerMac(args: CmdArgs): string | undefined {
  let mac: string | undefined;
  const fromEnv = args.cniArgs(['MAC']).MAC;
  if (fromEnv) {
    if (!isMac(fromEnv))
      throw new CniError(
        ErrorCode.InvalidEnvironmentVariables,
        `ARGS: MAC: invalid MAC address ${JSON.stringify(fromEnv)}`,
      );
    mac = fromEnv;
  }
  for (const [field, value] of [
    ['args.cni.mac', args.argsCni('mac')],
    ['runtimeConfig.mac', args.runtimeConfig.mac],
  ] as const) {
    if (value === undefined || value === '') continue;
    if (typeof value !== 'string' || !isMac(value))
      throw invalidConfig(field, `invalid MAC address ${JSON.stringify(value)}`);
    mac = value;
  }
  return mac?.toLowerCase();
}

/** Compact ranges for `bridge vlan add vid a-b`. */
export function vlanRanges(ids: number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ids.length;) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j] + 1) j++;
    out.push(i === j ? String(ids[i]) : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return out;
}
