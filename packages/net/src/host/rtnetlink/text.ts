/**
 * ASCII and hex by hand: in the compiled executable the first use of TextEncoder/TextDecoder, `Array.from`,
 * `toString(16)` or `padStart` costs up to ≈ 0.9 ms of CPU (measured), more than a netlink request.
 */

/** The bytes of an ASCII string, NUL-terminated; undefined when it is not ASCII. */
export function cString(s: string): Uint8Array | undefined {
  const b = new Uint8Array(s.length + 1);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 127) return undefined;
    b[i] = c;
  }
  return b;
}

/** An ASCII string from bytes (up to the first NUL); undefined when a byte is not ASCII. */
export function ascii(b: Uint8Array | undefined): string | undefined {
  if (!b) return undefined;
  let s = '';
  for (let i = 0; i < b.length && b[i] !== 0; i++) {
    if (b[i] > 127) return undefined;
    s += String.fromCharCode(b[i]);
  }
  return s;
}

const DIGITS = '0123456789abcdef';

/** `aa:bb:…`, as iproute2 prints a link-layer address. */
export function macText(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (i ? ':' : '') + DIGITS[b[i] >> 4] + DIGITS[b[i] & 15];
  return s;
}

/** A 16-bit word in hex without leading zeros (an IPv6 group). */
export function word(w: number): string {
  let s = '';
  for (let shift = 12; shift >= 0; shift -= 4) {
    const d = (w >> shift) & 15;
    if (s || d || shift === 0) s += DIGITS[d];
  }
  return s;
}
