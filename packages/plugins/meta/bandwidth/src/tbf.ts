import { readText } from '@tscni/cni/files';

/**
 * Token bucket numbers, computed the way the reference plugin does, and how to make `tc` produce them.
 * The reference talks netlink directly: rate in bytes/s, `buffer` in psched ticks, `limit` in bytes.
 * `tc` only takes the burst in whole bytes and converts it to ticks itself, so we pick the byte count
 * whose ticks land closest to the reference's buffer (within one byte of transmit time).
 */

const USEC_PER_SEC = 1_000_000;
/** The queue holds this much traffic on top of the burst (`tc` shows it as `lat 25ms`). */
export const LATENCY_MS = 25;

export interface Tbf {
  /** bytes per second */
  rate: number;
  /** bytes */
  burst: number;
  /** psched ticks of the burst's transmit time */
  buffer: number;
  /** bytes the queue may hold */
  limit: number;
}

/** Microseconds per psched tick, from /proc/net/psched, as tc and the netlink libraries compute it. */
export function tickInUsec(psched: string = readText('/proc/net/psched')): number {
  const [t2us, us2t, clockRes] = psched
    .trim()
    .split(/\s+/)
    .map((h) => parseInt(h, 16));
  if (!t2us || !us2t || !clockRes) return 1;
  const ticksToUsec = clockRes === 1_000_000_000 ? us2t : t2us;
  return (ticksToUsec / us2t) * (clockRes / USEC_PER_SEC);
}

/** Go's float64 → uint32 conversion for in-range values. */
const uint32 = (x: number): number => Math.trunc(x) >>> 0;

/** The reference's TBF for a rate in bit/s and a burst in bits. */
export function tbfFor(rateBits: number, burstBits: number, tick: number): Tbf {
  const rate = Math.floor(rateBits / 8);
  const burst = Math.floor(burstBits / 8);
  const xmitUsec = uint32((burst * USEC_PER_SEC) / rate);
  const buffer = uint32(xmitUsec * tick);
  const latencyUsec = USEC_PER_SEC * (LATENCY_MS / 1000);
  const limit = (uint32((rate * latencyUsec) / USEC_PER_SEC) + burst) >>> 0;
  return { rate, burst, buffer, limit };
}

/** The ticks `tc` computes for `bytes` of burst at `rate` (iproute2's tc_calc_xmittime). */
export const tcTicksFor = (bytes: number, rate: number, tick: number): number =>
  Math.trunc(USEC_PER_SEC * (bytes / rate) * tick);

/** The whole-byte burst to hand `tc` so that its buffer comes closest to the reference's (ties go to the smaller). */
export function tcBurstBytes(t: Tbf, tick: number): number {
  const guess = Math.round(((t.buffer / tick) * t.rate) / USEC_PER_SEC);
  let best = Math.max(1, guess);
  for (let bytes = Math.max(1, guess - 3); bytes <= guess + 3; bytes++) {
    if (Math.abs(tcTicksFor(bytes, t.rate, tick) - t.buffer) < Math.abs(tcTicksFor(best, t.rate, tick) - t.buffer))
      best = bytes;
  }
  return best;
}

/** `tbf …` arguments of a `tc qdisc add` producing `t`. */
export const tbfArgs = (t: Tbf, tick: number): (string | number)[] => [
  'tbf',
  'rate',
  `${t.rate}bps`,
  'burst',
  tcBurstBytes(t, tick),
  'limit',
  t.limit,
];

/** TBF options as `tc -j qdisc show` prints them. */
export interface TbfShown {
  rate?: number;
  burst?: number;
  lat?: number;
}

/**
 * Why a TBF `tc` shows does not match `t`, or undefined when it does. `tc` prints burst and latency
 * after a round trip through whole microseconds, so they are compared within two microseconds'
 * worth of bytes (burst) and two bytes' worth of time (latency); the rate must be exact.
 */
export function tbfMismatch(shown: TbfShown, t: Tbf): string | undefined {
  if (shown.rate !== t.rate) return `rate is ${shown.rate} B/s, expected ${t.rate}`;
  const burstSlack = 2 + Math.ceil((2 * t.rate) / USEC_PER_SEC);
  if (shown.burst === undefined || Math.abs(shown.burst - t.burst) > burstSlack)
    return `burst is ${shown.burst} B, expected ${t.burst}`;
  const latencyUsec = LATENCY_MS * 1000;
  const latSlack = 2 + 2 * Math.ceil(USEC_PER_SEC / t.rate);
  if (shown.lat === undefined || Math.abs(shown.lat - latencyUsec) > latSlack)
    return `latency is ${shown.lat} us, expected ${latencyUsec} (limit ${t.limit} B)`;
  return undefined;
}
