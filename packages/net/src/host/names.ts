import { createHash, randomBytes } from 'node:crypto';

/** `prefix` + hex(sha512(parts joined)) cut to `length` chars: the reference's chain and device names. */
export function hashedName(prefix: string, length: number, ...parts: string[]): string {
  const digest = createHash('sha512').update(parts.join('')).digest('hex');
  return (prefix + digest).slice(0, length);
}

/** Host-side veth name like the reference's: `veth` + 8 random hex digits. */
export const randomVethName = (): string => `veth${randomBytes(4).toString('hex')}`;

/** A random temporary link name (macvlan/ipvlan/vlan are created under one, then renamed). */
export const randomTempName = (prefix = 'tmp'): string => `${prefix}${randomBytes(4).toString('hex')}`;
