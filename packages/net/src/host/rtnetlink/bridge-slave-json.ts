import { attrs, get16, get32, u32 } from './message';
import { bridgeId } from './bridge-json';
import { word } from './text';

/**
 * A bridge port's `info_slave_data` as iproute2 6.1 prints it (ip/iplink_bridge_slave.c, bridge_slave_print_opt):
 * each IFLA_BRPORT_* attribute the kernel sends, in that function's order and format. Undefined when one is too
 * short or names a link `backupName` cannot: `ip` then reads the link.
 */

type Format = 'state' | 'u8' | 'u16' | 'u32' | 'onoff' | 'hex16' | 'id' | 'timer' | 'fwdmask' | 'backup';

/** [IFLA_BRPORT_* number, JSON key, format], in bridge_slave_print_opt's order. */
const FIELDS: [number, string, Format][] = [
  [1, 'state', 'state'],
  [2, 'priority', 'u16'],
  [3, 'cost', 'u32'],
  [4, 'hairpin', 'onoff'],
  [5, 'guard', 'onoff'],
  [6, 'root_block', 'onoff'],
  [7, 'fastleave', 'onoff'],
  [8, 'learning', 'onoff'],
  [9, 'flood', 'onoff'],
  [17, 'id', 'hex16'],
  [18, 'no', 'hex16'],
  [15, 'designated_port', 'u16'],
  [16, 'designated_cost', 'u16'],
  [14, 'bridge_id', 'id'],
  [13, 'root_id', 'id'],
  [23, 'hold_timer', 'timer'],
  [21, 'message_age_timer', 'timer'],
  [22, 'forward_delay_timer', 'timer'],
  [19, 'topology_change_ack', 'u8'],
  [20, 'config_pending', 'u8'],
  [10, 'proxy_arp', 'onoff'],
  [12, 'proxy_arp_wifi', 'onoff'],
  [25, 'multicast_router', 'u8'],
  [27, 'mcast_flood', 'onoff'],
  [30, 'bcast_flood', 'onoff'],
  [28, 'mcast_to_unicast', 'onoff'],
  [32, 'neigh_suppress', 'onoff'],
  [31, 'group_fwd_mask', 'fwdmask'],
  [29, 'vlan_tunnel', 'onoff'],
  [33, 'isolated', 'onoff'],
  [39, 'locked', 'onoff'],
  [34, 'backup_port', 'backup'],
];
const NEED: Record<Format, number> = {
  state: 1,
  u8: 1,
  u16: 2,
  u32: 4,
  onoff: 1,
  hex16: 2,
  id: 8,
  timer: 8,
  fwdmask: 2,
  backup: 4,
};
const PORT_STATES = ['disabled', 'listening', 'learning', 'forwarding', 'blocking'];
/** fwd_mask_tbl: the bits of group_fwd_mask with a name. */
const FWD_MASK_NAMES: Record<number, string> = { 0: 'stp', 2: 'lacp', 14: 'lldp' };

const u64 = (b: Uint8Array): number => (get32(b, 0) >>> 0) + (get32(b, 4) >>> 0) * 0x100000000;
/** `%#llx`: `0x…`, and plain `0` for zero. */
const hex = (v: number): string => (v ? `0x${word(v)}` : '0');

/** _bitmask2str: the named bits, `0x…` for the others, comma-separated; `0x0` for none. */
function fwdMaskText(mask: number): string {
  let s = '';
  for (let i = 0; i < 16; i++) if (mask & (1 << i)) s += (s ? ',' : '') + (FWD_MASK_NAMES[i] ?? `0x${word(1 << i)}`);
  return s || '0x0';
}

export function bridgeSlaveInfoData(
  data: Uint8Array,
  backupName: (index: number) => string | undefined,
): Record<string, unknown> | undefined {
  const a = attrs(data);
  const o: Record<string, unknown> = {};
  for (let i = 0; i < FIELDS.length; i++) {
    const [type, key, format] = FIELDS[i];
    const b = a.get(type);
    if (!b) continue;
    if (b.length < NEED[format]) return undefined;
    if (format === 'state') {
      if (b[0] < PORT_STATES.length) o.state = PORT_STATES[b[0]];
      else o.state_index = b[0];
    } else if (format === 'u8') o[key] = b[0];
    else if (format === 'u16') o[key] = get16(b, 0);
    else if (format === 'u32') o[key] = u32(b);
    else if (format === 'onoff') o[key] = b[0] !== 0;
    else if (format === 'hex16') o[key] = hex(get16(b, 0));
    else if (format === 'id') o[key] = bridgeId(b);
    else if (format === 'timer') {
      // centiseconds as `%i.%.2i`: the number JSON.parse makes of ip's text (division rounds to the same double)
      o[key] = u64(b) / 100;
    } else if (format === 'fwdmask') {
      const mask = get16(b, 0);
      o.group_fwd_mask = hex(mask);
      o.group_fwd_mask_str = fwdMaskText(mask);
    } else {
      const name = backupName(u32(b)!);
      if (name === undefined) return undefined;
      o.backup_port = name;
    }
  }
  return o;
}
