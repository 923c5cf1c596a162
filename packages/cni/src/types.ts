import { z } from 'zod';
import { emptyAsUnset } from './go-json';
import { lazySchema } from './lazy-schema';
import { plainInt, plainObject, plainString, plainStrings, type PlainObject } from './plain-decode';

/** Interface of a 1.x result (0.3/0.4 have no mtu/socketPath/pciID). */
export const InterfaceSchema = lazySchema(() =>
  z
    .object({
      name: z.string(),
      mac: z.string().optional(),
      mtu: z.number().int().optional(),
      sandbox: z.string().optional(),
      socketPath: z.string().optional(),
      pciID: z.string().optional(),
    })
    .passthrough(),
);
export type Interface = z.infer<typeof InterfaceSchema>;

export const IPConfigSchema = lazySchema(() =>
  z
    .object({
      address: z.string(),
      gateway: z.string().optional(),
      interface: z.number().int().nonnegative().optional(),
      version: z.enum(['4', '6']).optional(),
    })
    .passthrough(),
);
export type IPConfig = z.infer<typeof IPConfigSchema>;

export const RouteSchema = lazySchema(() =>
  z
    .object({
      dst: z.string(),
      gw: emptyAsUnset(z.string()),
      mtu: z.number().int().optional(),
      advmss: z.number().int().optional(),
      priority: z.number().int().optional(),
      table: z.number().int().optional(),
      scope: z.number().int().optional(),
    })
    .passthrough(),
);
export type Route = z.infer<typeof RouteSchema>;

export const DNSSchema = lazySchema(() =>
  z
    .object({
      nameservers: z.array(z.string()).optional(),
      domain: emptyAsUnset(z.string()), // omitempty in the reference's result
      search: z.array(z.string()).optional(),
      options: z.array(z.string()).optional(),
    })
    .passthrough(),
);
export type DNS = z.infer<typeof DNSSchema>;

/** A result in the current (1.x) shape; 0.3/0.4 differ only by `ips[].version`. */
export const ResultSchema = lazySchema(() =>
  z
    .object({
      cniVersion: z.string().optional(),
      interfaces: z.array(InterfaceSchema).optional(),
      ips: z.array(IPConfigSchema).optional(),
      routes: z.array(RouteSchema).optional(),
      dns: DNSSchema.optional(),
    })
    .passthrough(),
);
export type Result = z.infer<typeof ResultSchema> & { cniVersion: string };

/** RouteSchema's plain description (plain-decode.ts; test/plain-decode.test.ts holds it to the schema). */
export const plainRoute = (): PlainObject =>
  plainObject({
    dst: { kind: plainString, required: true },
    gw: { kind: plainString, emptyAsUnset: true },
    mtu: plainInt,
    advmss: plainInt,
    priority: plainInt,
    table: plainInt,
    scope: plainInt,
  });

let resultPlain: PlainObject | undefined;
/** ResultSchema's plain description, built on first use. */
export const plainResult = (): PlainObject =>
  (resultPlain ??= plainObject({
    cniVersion: plainString,
    interfaces: {
      k: 'array',
      of: plainObject({
        name: { kind: plainString, required: true },
        mac: plainString,
        mtu: plainInt,
        sandbox: plainString,
        socketPath: plainString,
        pciID: plainString,
      }),
    },
    ips: {
      k: 'array',
      of: plainObject({
        address: { kind: plainString, required: true },
        gateway: plainString,
        interface: { k: 'number', int: true, min: 0 },
        version: { k: 'enum', values: ['4', '6'] },
      }),
    },
    routes: { k: 'array', of: plainRoute() },
    dns: plainObject({
      nameservers: plainStrings,
      domain: { kind: plainString, emptyAsUnset: true },
      search: plainStrings,
      options: plainStrings,
    }),
  }));

const LegacyIPSchema = lazySchema(() =>
  z.object({ ip: z.string(), gateway: z.string().optional(), routes: z.array(RouteSchema).optional() }).passthrough(),
);
/** The 0.1.0/0.2.0 result shape. */
export const LegacyResultSchema = lazySchema(() =>
  z
    .object({
      cniVersion: z.string().optional(),
      ip4: LegacyIPSchema.optional(),
      ip6: LegacyIPSchema.optional(),
      dns: DNSSchema.optional(),
    })
    .passthrough(),
);
export type LegacyResult = z.infer<typeof LegacyResultSchema>;

export const IPAMConfigSchema = lazySchema(() => z.object({ type: z.string().optional() }).passthrough());
/** Fields every network configuration may carry (SPEC §Network configuration). */
export const NetConfSchema = lazySchema(() =>
  z
    .object({
      cniVersion: z.string().default('0.1.0'),
      name: z.string().optional(),
      type: z.string().optional(),
      capabilities: z.record(z.boolean()).optional(),
      ipam: IPAMConfigSchema.optional(),
      dns: DNSSchema.optional(),
      args: z.record(z.unknown()).optional(),
      runtimeConfig: z.record(z.unknown()).optional(),
      prevResult: z.record(z.unknown()).optional(),
      ipMasq: z.boolean().optional(),
    })
    .passthrough(),
);
export type NetConf = z.infer<typeof NetConfSchema>;

export const PluginConfSchema = lazySchema(() => NetConfSchema.schema.extend({ type: z.string().min(1) }));

/** A network configuration list (conflist). */
export const NetConfListSchema = lazySchema(() =>
  z
    .object({
      cniVersion: z.string().optional(),
      cniVersions: z.array(z.string()).optional(),
      name: z.string(),
      disableCheck: z.union([z.boolean(), z.enum(['true', 'false'])]).optional(),
      disableGC: z.union([z.boolean(), z.enum(['true', 'false'])]).optional(),
      plugins: z.array(z.object({ type: z.string() }).passthrough()),
    })
    .passthrough(),
);
export type NetConfList = z.infer<typeof NetConfListSchema>;

/** An attachment as named in `cni.dev/valid-attachments`. */
export interface Attachment {
  containerID: string;
  ifname: string;
}

export const VALID_ATTACHMENTS_KEY = 'cni.dev/valid-attachments';
