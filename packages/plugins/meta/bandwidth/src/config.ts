import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs } from '@tscni/cni';
import { invalidConfig } from '@tscni/cni/errors';
import { plainObject, type PlainKind, type PlainObject } from '@tscni/cni/plain-decode';

/** A rate in bit/s or a burst in bits: uint64 in the reference, so whole and not negative. */
const Bits = lazySchema(() => z.number().int().nonnegative());

const LimitsSchema = lazySchema(() =>
  z
    .object({
      ingressRate: Bits.optional(),
      ingressBurst: Bits.optional(),
      egressRate: Bits.optional(),
      egressBurst: Bits.optional(),
    })
    .passthrough(),
);

/** The bandwidth NetConf: the four limits at the top level or in `runtimeConfig.bandwidth` (capability `bandwidth`). */
export const BandwidthConfSchema = lazySchema(() =>
  LimitsSchema.schema.extend({
    runtimeConfig: z.object({ bandwidth: LimitsSchema.optional() }).passthrough().optional(),
  }),
);

let plain: PlainObject | undefined;
/** BandwidthConfSchema for plain-decode.ts (test/plain-config.test.ts holds it to the schema). */
export function plainBandwidthConf(): PlainObject {
  const bits: PlainKind = { k: 'number', int: true, min: 0 };
  const limits = { ingressRate: bits, ingressBurst: bits, egressRate: bits, egressBurst: bits };
  return (plain ??= plainObject({ ...limits, runtimeConfig: plainObject({ bandwidth: plainObject(limits) }) }));
}

export interface Limits {
  ingressRate: number;
  ingressBurst: number;
  egressRate: number;
  egressBurst: number;
}

const KEYS = ['ingressRate', 'ingressBurst', 'egressRate', 'egressBurst'] as const;

/** The largest burst the kernel's 32-bit byte counters take (the reference's "4GB"). */
const MAX_BURST_BYTES = 0xffffffff;

/**
 * The limits this attachment asks for. Like the reference, any limit at the top level means the
 * top-level entry is used as a whole; otherwise `runtimeConfig.bandwidth`. Validated per direction.
 */
export function parseLimits(args: CmdArgs): Limits {
  const conf = args.parse(BandwidthConfSchema, plainBandwidthConf());
  const topLevel = KEYS.some((k) => conf[k] !== undefined);
  const source = topLevel ? conf : (conf.runtimeConfig?.bandwidth ?? {});
  const prefix = topLevel ? '' : 'runtimeConfig.bandwidth.';
  const limits: Limits = {
    ingressRate: source.ingressRate ?? 0,
    ingressBurst: source.ingressBurst ?? 0,
    egressRate: source.egressRate ?? 0,
    egressBurst: source.egressBurst ?? 0,
  };
  validateRateAndBurst(`${prefix}ingress`, limits.ingressRate, limits.ingressBurst);
  validateRateAndBurst(`${prefix}egress`, limits.egressRate, limits.egressBurst);
  return limits;
}

/** The reference's checks (same wording), plus: a shaped direction needs at least one byte of rate and burst. */
function validateRateAndBurst(direction: string, rate: number, burst: number): void {
  if (rate !== 0 && burst === 0) throw invalidConfig(`${direction}Burst`, 'if rate is set, burst must also be set');
  if (rate === 0 && burst !== 0) throw invalidConfig(`${direction}Rate`, 'if burst is set, rate must also be set');
  if (Math.floor(burst / 8) >= MAX_BURST_BYTES)
    throw invalidConfig(`${direction}Burst`, 'burst cannot be more than 4GB');
  if (rate !== 0 && rate < 8)
    throw invalidConfig(`${direction}Rate`, 'rate must be at least 8 bit/s (one byte per second)');
  if (burst !== 0 && burst < 8) throw invalidConfig(`${direction}Burst`, 'burst must be at least 8 bits (one byte)');
}

export const shapesIngress = (l: Limits): boolean => l.ingressRate > 0 && l.ingressBurst > 0;
export const shapesEgress = (l: Limits): boolean => l.egressRate > 0 && l.egressBurst > 0;
