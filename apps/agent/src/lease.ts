/**
 * A node's lease as flannel stores it: the value at `<prefix>/subnets/<a.b.c.d-len>`, attached to an
 * etcd lease so it disappears when not renewed.
 */
import { formatCIDR, parseIP, type CIDR } from '@tscni/net/host';
import type { BackendType } from './network';

export type VxlanData = { VNI: number; VtepMAC: string };

/** flannel's LeaseAttrs, fields in its order (the value is compared as JSON text). */
export interface LeaseAttrs {
  PublicIP: string;
  /** Dual-stack leases only (flannel writes null otherwise; a v4-only lease here leaves it out, as before). */
  PublicIPv6?: string;
  BackendType: BackendType;
  BackendData: VxlanData | null;
  /** vxlan, dual-stack: the `flannel-v6.<VNI>` device's VNI and MAC. */
  BackendV6Data?: VxlanData;
}

export interface Lease {
  subnet: CIDR;
  /** The lease's IPv6 subnet (from the key's `&…` part), on dual-stack networks. */
  subnet6?: CIDR;
  attrs: LeaseAttrs;
  /** etcd's mod_revision of the key (for compare-and-swap). */
  revision: string;
  /** The etcd lease id the key is attached to ('0' when none). */
  etcdLease: string;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** The stored JSON, checked: a malformed peer lease is skipped rather than programmed. */
export function parseLeaseAttrs(text: string): LeaseAttrs | undefined {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object' || typeof v.PublicIP !== 'string' || parseIP(v.PublicIP)?.family !== 4)
    return undefined;
  const type = v.BackendType;
  if (type !== 'vxlan' && type !== 'host-gw') return undefined;
  const v6 = typeof v.PublicIPv6 === 'string' && v.PublicIPv6 ? v.PublicIPv6 : undefined;
  if (v6 !== undefined && parseIP(v6)?.family !== 6) return undefined;
  let data: LeaseAttrs['BackendData'] = null;
  let data6: VxlanData | undefined;
  if (type === 'vxlan') {
    data = vxlanData(v.BackendData) ?? null;
    if (!data) return undefined;
    if (v6 !== undefined && !(data6 = vxlanData(v.BackendV6Data))) return undefined;
  }
  return makeAttrs(v.PublicIP, type, data, v6, data6);
}

/** LeaseAttrs with flannel's field order (PublicIP, PublicIPv6, BackendType, BackendData, BackendV6Data). */
export function makeAttrs(
  publicIP: string,
  type: BackendType,
  data: VxlanData | null,
  publicIPv6?: string,
  data6?: VxlanData,
): LeaseAttrs {
  return {
    PublicIP: publicIP,
    ...(publicIPv6 ? { PublicIPv6: publicIPv6 } : {}),
    BackendType: type,
    BackendData: data,
    ...(publicIPv6 && data6 ? { BackendV6Data: data6 } : {}),
  };
}

function vxlanData(v: unknown): VxlanData | undefined {
  const d = v as Record<string, unknown> | null;
  if (!d || typeof d !== 'object' || typeof d.VtepMAC !== 'string' || !MAC.test(d.VtepMAC)) return undefined;
  return { VNI: Number(d.VNI ?? 1), VtepMAC: d.VtepMAC.toLowerCase() };
}

export const describeLease = (l: Lease) => ({
  subnet: formatCIDR(l.subnet),
  ...(l.subnet6
    ? { subnet6: formatCIDR(l.subnet6), publicIPv6: l.attrs.PublicIPv6, vtepMACv6: l.attrs.BackendV6Data?.VtepMAC }
    : {}),
  publicIP: l.attrs.PublicIP,
  backend: l.attrs.BackendType,
  vtepMAC: l.attrs.BackendData?.VtepMAC,
});

export const sameAttrs = (a: LeaseAttrs, b: LeaseAttrs): boolean => JSON.stringify(a) === JSON.stringify(b);
