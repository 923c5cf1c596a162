/**
 * Kubernetes resource quantities (`resource.Quantity`): a decimal number with an optional SI suffix
 * (n u m k M G T P E), binary suffix (Ki Mi Gi Ti Pi Ei) or decimal exponent (e3, E-2). `value()`
 * rounds up to an integer like Quantity.Value(). Used for the bandwidth annotations (bits/s).
 */
const SUFFIXES: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([numkMGTPE]|[KMGTPE]i)?|[eE]([+-]?\d+))$/;

/** The quantity's value rounded up to an integer; throws on a malformed string. */
export function quantityValue(text: string): number {
  const m = QUANTITY.exec(text.trim());
  if (!m)
    throw new Error(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`);
  const multiplier = m[3] !== undefined ? 10 ** Number(m[3]) : SUFFIXES[m[2] ?? ''];
  // Round away tiny float noise before taking the ceiling (e.g. 1.1M is 1100000, not 1100000.0000000002).
  const exact = Number((Number(m[1]) * multiplier).toPrecision(15));
  return Math.ceil(exact);
}
