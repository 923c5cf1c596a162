/**
 * A node's lease as flannel stores it: the value at `<prefix>/subnets/<a.b.c.d-len>`, attached to an
 * etcd lease so it disappears when not renewed.
 */
import { formatCIDR, parseIP, type CIDR } from '@tscni/net/host';
import type { BackendType } from './network';

export interface LeaseAttrs {
  PublicIP: string;
  PublicIPv6?: string;
  BackendType: BackendType;
  BackendData: { VNI: number; VtepMAC: string } | null;
}

export interface Lease {
  subnet: CIDR;
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
  if (!v || typeof v !== 'object' || typeof v.PublicIP !== 'string' || parseIP(v.PublicIP)?.family !== 4) return undefined;
  const type = v.BackendType;
  if (type !== 'vxlan' && type !== 'host-gw') return undefined;
  let data: LeaseAttrs['BackendData'] = null;
  if (type === 'vxlan') {
    const d = v.BackendData as Record<string, unknown> | null;
    if (!d || typeof d.VtepMAC !== 'string' || !MAC.test(d.VtepMAC)) return undefined;
    data = { VNI: Number(d.VNI ?? 1), VtepMAC: d.VtepMAC.toLowerCase() };
  }
  const attrs: LeaseAttrs = { PublicIP: v.PublicIP, BackendType: type, BackendData: data };
  if (typeof v.PublicIPv6 === 'string' && v.PublicIPv6) attrs.PublicIPv6 = v.PublicIPv6;
  return attrs;
}

export const describeLease = (l: Lease) => ({ subnet: formatCIDR(l.subnet), publicIP: l.attrs.PublicIP, backend: l.attrs.BackendType, vtepMAC: l.attrs.BackendData?.VtepMAC });

export const sameAttrs = (a: LeaseAttrs, b: LeaseAttrs): boolean => JSON.stringify(a) === JSON.stringify(b);
