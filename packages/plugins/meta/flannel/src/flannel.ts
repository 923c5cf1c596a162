import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { lazySchema } from '@tscni/cni/lazy-schema';
import type { CmdArgs, PluginFuncs, Result } from '@tscni/cni';
import { delegateAdd, delegateCheck, delegateDel } from '@tscni/cni/invoke';
import { loadSubnetEnv, type SubnetEnv } from './subnet-env';

const FlannelConfSchema = lazySchema(() =>
  z
    .object({
      name: z.string().min(1, 'missing network name'),
      cniVersion: z.string(),
      subnetFile: z.string().default('/run/flannel/subnet.env'),
      dataDir: z.string().default('/var/lib/cni/flannel'),
      delegate: z
        .record(z.unknown())
        .default({})
        .refine((d) => !('name' in d), '"name" field is not allowed in the delegate')
        .refine((d) => !('ipam' in d), '"ipam" field is not allowed in the delegate, use the top-level "ipam"')
        .refine((d) => d.type === undefined || typeof d.type === 'string', 'type field in delegate is not a string'),
      ipam: z.record(z.unknown()).default({}),
      runtimeConfig: z.record(z.unknown()).optional(),
    })
    .passthrough(),
);
type FlannelConf = z.infer<typeof FlannelConfSchema>;

/** ADD: build the delegate config from subnet.env, save it, then ADD through the delegate. */
async function add(args: CmdArgs): Promise<Result> {
  const conf = args.parse(FlannelConfSchema);
  const delegate = delegateConfig(conf, loadSubnetEnv(conf.subnetFile));
  const type = String(delegate.type);
  const bytes = JSON.stringify(delegate);
  saveDelegate(conf.dataDir, args.containerID, bytes);
  try {
    return await delegateAdd(type, bytes, args.env);
  } catch (err) {
    // Undo what the delegate may have done (IPAM lease, veth) before reporting the failure.
    await delegateDel(type, bytes, args.env).catch(() => {});
    removeDelegate(conf.dataDir, args.containerID);
    throw err;
  }
}

/** DEL: replay the saved delegate config; nothing saved (or unreadable) means nothing to undo. */
async function del(args: CmdArgs): Promise<void> {
  const conf = args.parse(FlannelConfSchema);
  const saved = loadDelegate(conf.dataDir, args.containerID);
  if (!saved) return;
  await delegateDel(String(saved.conf.type), saved.bytes, args.env);
  removeDelegate(conf.dataDir, args.containerID);
}

/** CHECK: the reference does nothing; we ask the delegate to check what it made. */
async function check(args: CmdArgs): Promise<void> {
  const conf = args.parse(FlannelConfSchema);
  const saved = loadDelegate(conf.dataDir, args.containerID);
  if (!saved) throw new Error(`flannel: no saved delegate config for container ${args.containerID}`);
  await delegateCheck(String(saved.conf.type), { ...saved.conf, prevResult: args.netConf.prevResult }, args.env);
}

/** The reference's delegate: bridge by default, masquerade unless flanneld does it, host-local on the node subnet. */
export function delegateConfig(conf: FlannelConf, env: SubnetEnv): Record<string, unknown> {
  const delegate: Record<string, unknown> = { ...conf.delegate };
  delegate.name = conf.name;
  delegate.type ??= 'bridge';
  delegate.ipMasq ??= !env.ipMasq;
  delegate.mtu ??= env.mtu;
  if (delegate.type === 'bridge') delegate.isGateway ??= true;
  delegate.cniVersion = conf.cniVersion;
  if (conf.runtimeConfig) delegate.runtimeConfig = conf.runtimeConfig;

  const ranges = [env.subnet, env.ipv6Subnet].filter((s): s is string => !!s).map((subnet) => [{ subnet }]);
  const routes = [
    ...((conf.ipam.routes as unknown[]) ?? []),
    ...[...env.networks, ...env.ipv6Networks].map((dst) => ({ dst })),
  ];
  delegate.ipam = { ...conf.ipam, type: conf.ipam.type ?? 'host-local', ranges, routes };
  return delegate;
}

function saveDelegate(dataDir: string, containerID: string, bytes: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, containerID);
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

function loadDelegate(
  dataDir: string,
  containerID: string,
): { bytes: string; conf: Record<string, unknown> } | undefined {
  let bytes: string;
  try {
    bytes = readFileSync(join(dataDir, containerID), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const conf = JSON.parse(bytes) as Record<string, unknown>;
    if (typeof conf.type === 'string') return { bytes, conf };
  } catch {
    /* fall through: an unreadable file cannot be replayed */
  }
  removeDelegate(dataDir, containerID);
  return undefined;
}

const removeDelegate = (dataDir: string, containerID: string): void =>
  rmSync(join(dataDir, containerID), { force: true });

export const flannel: PluginFuncs = { add, del, check };
