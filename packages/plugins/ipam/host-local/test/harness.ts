import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNetns, type PluginRun } from '@tscni/testing/node';

/** Runs an IPAM binary the way a main plugin delegates to it (no netns needed for host-local). */
export interface Invocation {
  cid?: string;
  ifname?: string;
  cniArgs?: string;
}

export function invoke(bin: string, command: string, conf: unknown, inv: Invocation = {}): Promise<PluginRun> {
  const env = {
    CNI_COMMAND: command,
    CNI_CONTAINERID: inv.cid ?? 'ctr1',
    CNI_NETNS: '/var/run/netns/ipam-test-unused',
    CNI_IFNAME: inv.ifname ?? 'eth0',
    CNI_PATH: '/usr/lib/cni',
    ...(inv.cniArgs ? { CNI_ARGS: inv.cniArgs } : {}),
  };
  return runInNetns(undefined, bin, env, typeof conf === 'string' ? conf : JSON.stringify(conf));
}

/** A scratch data dir per test file, removed in afterAll. */
export function scratchDir(tag: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `tscni-${tag}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

let seq = 0;
/** A host-local config on a fresh network name inside `dataDir`. */
export function netConf(
  dataDir: string,
  ipam: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> & { name: string } {
  return {
    cniVersion: '1.0.0',
    name: `net${process.pid}-${seq++}`,
    type: 'bridge',
    ...extra,
    ipam: { type: 'host-local', dataDir, ...ipam },
  };
}

/** The lease files of a network: file name → content (the data dir as the reference lays it out). */
export function leases(dataDir: string, network: string): Record<string, string> {
  const dir = join(dataDir, network);
  const out: Record<string, string> = {};
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) if (/^[0-9a-f.:]+$/.test(name)) out[name] = readFileSync(join(dir, name), 'utf8');
  return out;
}

export const lastReserved = (dataDir: string, network: string, idx = 0): string =>
  readFileSync(join(dataDir, network, `last_reserved_ip.${idx}`), 'utf8');

export const addresses = (run: PluginRun): string[] =>
  (run.json?.ips ?? []).map((ip: { address: string }) => ip.address);

/** Run `jobs` with at most `limit` in flight. */
export async function pool<T>(limit: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return out;
}
