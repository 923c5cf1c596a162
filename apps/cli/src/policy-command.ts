/** `tscni policy apply|delete|ls|explain|namespace`: NetworkPolicy objects and namespace labels in etcd. */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import {
  DEFAULT_PREFIX,
  clusterFromKVs,
  isNamespaceName,
  isObjectName,
  namespaceKeyOf,
  parseLabels,
  parseNetworkPolicy,
  policyKeyOf,
  toKubernetes,
  type NetworkPolicy,
} from '@tscni/policy';
import type { EtcdKV } from '@tscni/etcd/client';
import { UsageError } from './argv';
import type { Context, Output } from './commands';
import { explainLines, policyRow, table } from './policy-text';

/** The etcd client, loaded only for `policy` (etcd3 parses its protos when loaded). */
async function connect(ctx: Context): Promise<{ etcd: EtcdKV; prefix: string }> {
  const { endpoints = 'http://127.0.0.1:2379', cafile, certfile, keyfile } = ctx.env.etcd;
  const prefix = (ctx.args.policyPrefix ?? DEFAULT_PREFIX).replace(/\/+$/, '');
  if (!/^\/[A-Za-z0-9._/-]+$/.test(prefix))
    throw new UsageError(`--policy-prefix ${JSON.stringify(prefix)} is not an absolute key path`);
  const config = {
    endpoints: endpoints
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    cafile,
    certfile,
    keyfile,
  };
  const { EtcdKV } = await import('@tscni/etcd/client');
  return { etcd: new EtcdKV(config), prefix };
}

/** The NetworkPolicy objects of a YAML (one or more documents, or a kind: List) or JSON file. */
export function readPolicies(text: string, namespace?: string): NetworkPolicy[] {
  const docs = parseAllDocuments(text);
  const objects: unknown[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new UsageError(`not YAML or JSON: ${d.errors[0].message}`);
    const v = d.toJS() as Record<string, unknown> | null;
    if (v === null || v === undefined) continue;
    if (v.kind === 'List' || v.kind === 'NetworkPolicyList') objects.push(...((v.items as unknown[]) ?? []));
    else objects.push(v);
  }
  if (!objects.length) throw new UsageError('no objects in the file');
  return objects.map((o) => parseNetworkPolicy(o, namespace ?? 'default'));
}

const readFile = (f: string) => (f === '-' ? readFileSync(0, 'utf8') : readFileSync(f, 'utf8'));

function namespaceArg(ctx: Context): string {
  const ns = ctx.args.namespace ?? 'default';
  if (!isNamespaceName(ns)) throw new UsageError(`-n: ${JSON.stringify(ns)} is not a valid namespace`);
  return ns;
}

async function apply(ctx: Context, etcd: EtcdKV, prefix: string): Promise<Output> {
  if (!ctx.args.filename) throw new UsageError('policy apply needs -f FILE');
  const policies = readPolicies(readFile(ctx.args.filename), ctx.args.namespace);
  const out: string[] = [];
  for (const p of policies) {
    await etcd.put(policyKeyOf(prefix, p.namespace, p.name), JSON.stringify(toKubernetes(p)));
    out.push(`networkpolicy ${p.namespace}/${p.name} configured`);
  }
  return { stdout: out, exitCode: 0 };
}

async function remove(ctx: Context, etcd: EtcdKV, prefix: string): Promise<Output> {
  const names = ctx.args.filename
    ? readPolicies(readFile(ctx.args.filename), ctx.args.namespace).map((p) => [p.namespace, p.name])
    : ctx.args.positional.slice(1).map((n) => [namespaceArg(ctx), n]);
  if (!names.length) throw new UsageError('policy delete needs NAME... or -f FILE');
  const out: string[] = [];
  let missing = 0;
  for (const [ns, name] of names) {
    if (!isObjectName(name)) throw new UsageError(`${JSON.stringify(name)} is not a valid policy name`);
    if (await etcd.delete(policyKeyOf(prefix, ns, name))) out.push(`networkpolicy ${ns}/${name} deleted`);
    else {
      out.push(`networkpolicy ${ns}/${name} not found`);
      missing++;
    }
  }
  return { stdout: out, exitCode: missing ? 1 : 0 };
}

async function readCluster(etcd: EtcdKV, prefix: string) {
  return clusterFromKVs(prefix, await etcd.list(`${prefix}/`)).cluster;
}

async function ls(ctx: Context, etcd: EtcdKV, prefix: string): Promise<Output> {
  const c = await readCluster(etcd, prefix);
  const ps = c.policies.filter((p) => !ctx.args.namespace || p.namespace === ctx.args.namespace);
  if (ctx.args.json) return { stdout: [JSON.stringify(ps.map(toKubernetes))], exitCode: 0 };
  return { stdout: table(['NAMESPACE', 'NAME', 'POD-SELECTOR', 'POLICY-TYPES'], ps.map(policyRow)), exitCode: 0 };
}

async function explain(ctx: Context, etcd: EtcdKV, prefix: string): Promise<Output> {
  const arg = ctx.args.positional[1];
  if (!arg) throw new UsageError('policy explain needs NAMESPACE/POD (or POD with -n)');
  const [ns, name] = arg.includes('/') ? arg.split('/', 2) : [namespaceArg(ctx), arg];
  const c = await readCluster(etcd, prefix);
  const pod = c.pods.find((p) => p.namespace === ns && p.name === name);
  if (!pod) return { stdout: [`pod ${ns}/${name} is not in etcd (is the harness publishing pods?)`], exitCode: 1 };
  return { stdout: explainLines(c, pod), exitCode: 0 };
}

async function namespace(ctx: Context, etcd: EtcdKV, prefix: string): Promise<Output> {
  const [, ns, ...pairs] = ctx.args.positional;
  if (!isNamespaceName(ns)) throw new UsageError('policy namespace needs NAMESPACE [KEY=VALUE...]');
  const labels: Record<string, string> = {};
  for (const kv of pairs) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new UsageError(`${JSON.stringify(kv)} is not KEY=VALUE`);
    labels[kv.slice(0, i)] = kv.slice(i + 1);
  }
  await etcd.put(namespaceKeyOf(prefix, ns), JSON.stringify({ labels: parseLabels(labels, 'labels') }));
  return {
    stdout: [
      `namespace ${ns} labelled ${
        Object.entries(labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(',') || '<none>'
      }`,
    ],
    exitCode: 0,
  };
}

const SUB: Record<string, (ctx: Context, etcd: EtcdKV, prefix: string) => Promise<Output>> = {
  apply,
  delete: remove,
  ls,
  explain,
  namespace,
};

export async function policyCommand(ctx: Context): Promise<Output> {
  const sub = ctx.args.positional[0];
  const fn = sub ? SUB[sub] : undefined;
  if (!fn) throw new UsageError(`policy needs one of ${Object.keys(SUB).join(', ')}`);
  const { etcd, prefix } = await connect(ctx);
  try {
    return await fn(ctx, etcd, prefix);
  } finally {
    etcd.close();
  }
}
