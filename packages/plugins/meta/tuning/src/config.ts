import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs } from '@tscni/cni';
import { CniError, ErrorCode, invalidConfig } from '@tscni/cni/errors';
import { goField } from '@tscni/cni/go-json';
import { plainBoolean, plainObject, plainString, type PlainKind, type PlainObject } from '@tscni/cni/plain-decode';
import { repeatedKeys } from './json-keys';
import { allowlistPath, checkAllowlist, mergeSysctls, resolveSysctls, type SysctlTarget } from './sysctls';

export const DEFAULT_DATA_DIR = '/run/cni/tuning';

const Sysctls = lazySchema(() => z.record(z.string()));
const Mtu = lazySchema(() => z.number().int().nonnegative());
const TxQLen = lazySchema(() => z.number().int().nonnegative().max(0xffffffff));

/** Link attributes tuning sets; `args.cni` may override each of them per attachment. */
const AttributesSchema = lazySchema(() =>
  z.object({
    sysctl: Sysctls.optional(),
    mac: z.string().optional(),
    mtu: Mtu.optional(),
    promisc: z.boolean().optional(),
    allmulti: z.boolean().optional(),
    txQLen: TxQLen.optional(),
  }),
);

export const TuningConfSchema = lazySchema(() =>
  AttributesSchema.schema
    .extend({
      dataDir: z.string().min(1).optional(),
      runtimeConfig: z.object({ mac: z.string().optional() }).passthrough().optional(),
      args: z.object({ cni: AttributesSchema.schema.passthrough().optional() }).passthrough().optional(),
    })
    .passthrough(),
);

let plain: PlainObject | undefined;
/** TuningConfSchema for plain-decode.ts (test/plain-config.test.ts holds it to the schema). */
export function plainTuningConf(): PlainObject {
  if (plain) return plain;
  const attributes: Record<string, PlainKind> = {
    sysctl: { k: 'record', of: plainString },
    mac: plainString,
    mtu: { k: 'number', int: true, min: 0 },
    promisc: plainBoolean,
    allmulti: plainBoolean,
    txQLen: { k: 'number', int: true, min: 0, max: 0xffffffff },
  };
  return (plain = plainObject({
    ...attributes,
    dataDir: { k: 'string', ok: (d) => d.length >= 1 },
    runtimeConfig: plainObject({ mac: plainString }),
    args: plainObject({ cni: plainObject(attributes) }),
  }));
}

/** What one attachment asks for, every source merged. Absent attributes are left alone. */
export interface Tuning {
  sysctls: SysctlTarget[];
  mac?: string;
  mtu?: number;
  promisc?: true;
  allmulti?: boolean;
  txQLen?: number;
  dataDir: string;
}

/**
 * Parse and merge: `args.cni.*` overrides the config (sysctl entries merged); the MAC comes from,
 * lowest first, config `mac` < CNI_ARGS `MAC` < `runtimeConfig.mac` < `args.cni.mac`. Like the
 * reference, `promisc: false` and `mtu: 0` mean "leave as is".
 */
export function parseTuning(args: CmdArgs): Tuning {
  const conf = args.parse(TuningConfSchema, plainTuningConf());
  const cni = conf.args?.cni ?? {};
  const envMac = args.cniArgs(['MAC']).MAC;

  const macSource = (
    [
      ['args.cni.mac', cni.mac],
      ['runtimeConfig.mac', conf.runtimeConfig?.mac],
      ['CNI_ARGS MAC', envMac],
      ['mac', conf.mac],
    ] as const
  ).find(([, v]) => v !== undefined && v !== '');
  const mac = macSource ? normalizeMac(macSource[1]!, macSource[0]) : undefined;

  const [repeated] = repeatedKeys(args.stdinData, [['sysctl'], ['args', 'cni', 'sysctl']]);
  if (repeated)
    throw invalidConfig(repeated.path, `duplicated sysctl keys are not allowed: ${JSON.stringify(repeated.key)}`);
  const sysctls = mergeSysctls(
    resolveSysctls(conf.sysctl ?? {}, args.ifName, 'sysctl'),
    resolveSysctls(cni.sysctl ?? {}, args.ifName, 'args.cni.sysctl'),
  );
  checkAllowlist(sysctls, allowlistPath(args.env));
  // An empty value (or null, which Go decodes to "") is a zero-byte write in the reference: nothing changes.
  const effective = sysctls.filter((s) => s.value !== '');

  const mtu = cni.mtu ?? conf.mtu;
  const promisc = cni.promisc ?? conf.promisc;
  return {
    sysctls: effective,
    mac,
    mtu: mtu ? mtu : undefined,
    promisc: promisc ? true : undefined,
    allmulti: cni.allmulti ?? conf.allmulti,
    txQLen: cni.txQLen ?? conf.txQLen,
    dataDir: validDataDir(conf.dataDir),
  };
}

/** The backup directory; any path the kernel can take (the reference accepts relative ones too), so no NUL in it. */
function validDataDir(dir: string | undefined): string {
  if (dir?.includes('\0'))
    throw invalidConfig('dataDir', `must not contain a NUL character, got ${JSON.stringify(dir)}`);
  return dir ?? DEFAULT_DATA_DIR;
}

/**
 * `dataDir` read leniently (DEL must find the backup even when the rest of the config no longer validates); undefined
 * for one with a NUL, where no ADD can have saved anything.
 */
export const dataDirOf = (args: CmdArgs): string | undefined => {
  const dir = goField(args.netConf, 'dataDir');
  if (typeof dir !== 'string' || dir === '') return DEFAULT_DATA_DIR;
  return dir.includes('\0') ? undefined : dir;
};

export const changesLink = (t: Tuning): boolean =>
  t.mac !== undefined ||
  t.mtu !== undefined ||
  t.promisc !== undefined ||
  t.allmulti !== undefined ||
  t.txQLen !== undefined;

/** A 6-byte MAC in colon or dash notation, as `ip` prints it (lower case, colons). */
function normalizeMac(raw: string, field: string): string {
  if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(raw)) {
    const why = `invalid MAC address ${JSON.stringify(raw)}`;
    throw field === 'CNI_ARGS MAC'
      ? new CniError(ErrorCode.InvalidEnvironmentVariables, `ARGS: MAC: ${why}`)
      : invalidConfig(field, why);
  }
  return raw.toLowerCase().replaceAll('-', ':');
}
