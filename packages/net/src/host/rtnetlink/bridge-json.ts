import { attrs, get16, get32, u32 } from './message';
import { macText, word } from './text';

/**
 * A bridge's `info_data` as iproute2 6.1 (Debian 12's, the one the differential test holds it to) prints it
 * (ip/iplink_bridge.c, bridge_print_opt): every IFLA_BR_* attribute the kernel sends, in that file's order and format.
 * Undefined when the kernel sent one not rendered here: `ip` then reads the link.
 */

type Format = 'u8' | 'u16' | 'u32' | 'u64' | 'timer' | 'id' | 'rootid' | 'hex16' | 'mac' | 'proto' | 'boolopt';

/** [IFLA_BR_* number, JSON key, format], in bridge_print_opt's order. */
const FIELDS: [number, string, Format][] = [
  [1, 'forward_delay', 'u32'],
  [2, 'hello_time', 'u32'],
  [3, 'max_age', 'u32'],
  [4, 'ageing_time', 'u32'],
  [5, 'stp_state', 'u32'],
  [6, 'priority', 'u16'],
  [7, 'vlan_filtering', 'u8'],
  [8, 'vlan_protocol', 'proto'],
  [11, 'bridge_id', 'id'],
  // iproute2 6.1 prints the root id from IFLA_BR_BRIDGE_ID (when IFLA_BR_ROOT_ID is there).
  [10, 'root_id', 'rootid'],
  [12, 'root_port', 'u16'],
  [13, 'root_path_cost', 'u32'],
  [14, 'topology_change', 'u8'],
  [15, 'topology_change_detected', 'u8'],
  [16, 'hello_timer', 'timer'],
  [17, 'tcn_timer', 'timer'],
  [18, 'topology_change_timer', 'timer'],
  [19, 'gc_timer', 'timer'],
  [39, 'vlan_default_pvid', 'u16'],
  [41, 'vlan_stats_enabled', 'u8'],
  [45, 'vlan_stats_per_port', 'u8'],
  [9, 'group_fwd_mask', 'hex16'],
  [20, 'group_addr', 'mac'],
  [23, 'mcast_snooping', 'u8'],
  [46, '', 'boolopt'],
  [22, 'mcast_router', 'u8'],
  [24, 'mcast_query_use_ifaddr', 'u8'],
  [25, 'mcast_querier', 'u8'],
  [26, 'mcast_hash_elasticity', 'u32'],
  [27, 'mcast_hash_max', 'u32'],
  [28, 'mcast_last_member_cnt', 'u32'],
  [29, 'mcast_startup_query_cnt', 'u32'],
  [30, 'mcast_last_member_intvl', 'u64'],
  [31, 'mcast_membership_intvl', 'u64'],
  [32, 'mcast_querier_intvl', 'u64'],
  [33, 'mcast_query_intvl', 'u64'],
  [34, 'mcast_query_response_intvl', 'u64'],
  [35, 'mcast_startup_query_intvl', 'u64'],
  [42, 'mcast_stats_enabled', 'u8'],
  [43, 'mcast_igmp_version', 'u8'],
  [44, 'mcast_mld_version', 'u8'],
  [36, 'nf_call_iptables', 'u8'],
  [37, 'nf_call_ip6tables', 'u8'],
  [38, 'nf_call_arptables', 'u8'],
];
const HEX = '0123456789abcdef';
const NEED: Record<Format, number> = {
  u8: 1,
  u16: 2,
  u32: 4,
  u64: 8,
  timer: 8,
  id: 8,
  rootid: 8,
  hex16: 2,
  mac: 0,
  proto: 2,
  boolopt: 8,
};
const BR_BOOLOPT_NO_LL_LEARN = 1 << 0;
const BR_BOOLOPT_MCAST_VLAN_SNOOPING = 1 << 1;

const u64 = (b: Uint8Array): number => (get32(b, 0) >>> 0) + (get32(b, 4) >>> 0) * 0x100000000;

/** ifla_bridge_id (prio[2], addr[6]) as `%.2x%.2x.` + ether_ntoa (no zero padding). */
export function bridgeId(b: Uint8Array): string {
  let s = HEX[b[0] >> 4] + HEX[b[0] & 15] + HEX[b[1] >> 4] + HEX[b[1] & 15] + '.';
  for (let i = 2; i < 8; i++) s += (i > 2 ? ':' : '') + (b[i] > 15 ? HEX[b[i] >> 4] : '') + HEX[b[i] & 15];
  return s;
}

export function bridgeInfoData(data: Uint8Array): Record<string, unknown> | undefined {
  const a = attrs(data);
  for (const type of a.keys()) {
    // Sent by the kernel, printed by no one: IFLA_BR_FDB_FLUSH, IFLA_BR_PAD, IFLA_BR_MCAST_QUERIER_STATE, and what
    // is past iproute2 6.1's IFLA_BR_MAX (47; newer kernels add fdb_n_learned, fdb_max_learned), which it skips.
    let known = type === 21 || type === 40 || type >= 47;
    for (let i = 0; !known && i < FIELDS.length; i++) known = FIELDS[i][0] === type;
    if (!known) return undefined;
  }
  const o: Record<string, unknown> = {};
  for (let i = 0; i < FIELDS.length; i++) {
    const type = FIELDS[i][0];
    const key = FIELDS[i][1];
    const format = FIELDS[i][2];
    const b = a.get(type);
    if (!b) continue;
    if (b.length < NEED[format]) return undefined;
    if (format === 'u8') o[key] = b[0];
    else if (format === 'u16') o[key] = get16(b, 0);
    else if (format === 'u32') o[key] = u32(b);
    else if (format === 'u64') o[key] = u64(b);
    else if (format === 'timer') {
      // centiseconds as `%i.%.2i`: the same number JSON.parse makes of ip's text
      const cs = u64(b);
      o[key] = Number(`${Math.floor(cs / 100)}.${String(cs % 100).length === 1 ? '0' : ''}${cs % 100}`);
    } else if (format === 'id') o[key] = bridgeId(b);
    else if (format === 'rootid') {
      const id = a.get(11);
      if (!id || id.length < 8) return undefined;
      o[key] = bridgeId(id);
    } else if (format === 'hex16') {
      const v = get16(b, 0);
      o[key] = v ? `0x${word(v)}` : '0';
    } else if (format === 'mac') o[key] = macText(b);
    else if (format === 'proto') {
      const proto = (b[0] << 8) | b[1]; // network byte order
      if (proto === 0x8100) o[key] = '802.1Q';
      else if (proto === 0x88a8) o[key] = '802.1ad';
      else return undefined;
    } else {
      const val = get32(b, 0);
      const mask = get32(b, 4);
      if (mask & BR_BOOLOPT_NO_LL_LEARN) o.no_linklocal_learn = val & BR_BOOLOPT_NO_LL_LEARN ? 1 : 0;
      if (mask & BR_BOOLOPT_MCAST_VLAN_SNOOPING) o.mcast_vlan_snooping = val & BR_BOOLOPT_MCAST_VLAN_SNOOPING ? 1 : 0;
    }
  }
  return o;
}
