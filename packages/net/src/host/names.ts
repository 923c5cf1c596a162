import { bun } from '@tscni/cni/platform';

/**
 * No node:crypto here: loading it costs a call of the Bun executable ≈ 5.6 ms of CPU (more than a bridge ADD's own
 * work; docs/performance.md, "No node:crypto on the hot path"). Under Bun the hash is Bun's native hasher; the random
 * digits come from Web Crypto's `randomUUID`, a global in both runtimes.
 */
interface BunHasher {
  CryptoHasher: new (algorithm: 'sha512') => { update(data: string): { digest(encoding: 'hex'): string } };
}

/** `prefix` + hex(sha512(parts joined)) cut to `length` chars: the reference's chain and device names. */
export function hashedName(prefix: string, length: number, ...parts: string[]): string {
  const data = parts.join('');
  const digest = bun
    ? new (bun as unknown as BunHasher).CryptoHasher('sha512').update(data).digest('hex')
    : process.getBuiltinModule('node:crypto').createHash('sha512').update(data).digest('hex');
  return (prefix + digest).slice(0, length);
}

/**
 * 8 random hex digits (4 bytes) from the runtime's CSPRNG: the first 8 digits of a version 4 UUID are all random.
 * (`crypto.getRandomValues` cost a Bun call ≈ 0.7 ms more than `randomUUID`.)
 */
export const randomHex8 = (): string => globalThis.crypto.randomUUID().slice(0, 8);

/** Host-side veth name like the reference's: `veth` + 8 random hex digits. */
export const randomVethName = (): string => `veth${randomHex8()}`;

/** A random temporary link name (macvlan/ipvlan/vlan are created under one, then renamed). */
export const randomTempName = (prefix = 'tmp'): string => `${prefix}${randomHex8()}`;
