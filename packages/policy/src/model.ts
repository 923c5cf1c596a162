/**
 * networking.k8s.io/v1 NetworkPolicy, parsed from the Kubernetes JSON shape (YAML is turned into the same
 * object by the caller) into a normalized form: policyTypes defaulted as the API server does, absent
 * `from`/`to`/`ports` kept distinct from empty ones (absent or empty both mean "all", as in Kubernetes).
 */
import { mustCIDR, cidrContains } from '@tscni/net/host';

export type Operator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
export interface Requirement {
  key: string;
  operator: Operator;
  values: string[];
}
export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: Requirement[];
}
export interface IPBlock {
  cidr: string;
  except: string[];
}
export interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}
export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export interface PolicyPort {
  protocol: Protocol;
  port?: number;
  endPort?: number;
}
/** `peers`/`ports` empty = every peer / every port, as Kubernetes reads an absent or empty list. */
export interface Rule {
  peers: Peer[];
  ports: PolicyPort[];
}
export type PolicyType = 'Ingress' | 'Egress';
export interface NetworkPolicy {
  name: string;
  namespace: string;
  podSelector: LabelSelector;
  policyTypes: PolicyType[];
  ingress: Rule[];
  egress: Rule[];
}

export class PolicyError extends Error {
  override name = 'PolicyError';
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export const isNamespaceName = (s: unknown): s is string => typeof s === 'string' && DNS_LABEL.test(s);
export const isObjectName = (s: unknown): s is string => typeof s === 'string' && DNS_SUBDOMAIN.test(s);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
function obj(v: unknown, at: string): Obj {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new PolicyError(`${at}: must be an object`);
  return v;
}
function list(v: unknown, at: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new PolicyError(`${at}: must be a list`);
  return v;
}
function str(v: unknown, at: string): string {
  if (typeof v !== 'string') throw new PolicyError(`${at}: must be a string`);
  return v;
}

export function parseLabels(v: unknown, at: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(v, at))) {
    if (!LABEL_KEY.test(k)) throw new PolicyError(`${at}: invalid label key ${JSON.stringify(k)}`);
    const s = str(val, `${at}.${k}`);
    if (!LABEL_VALUE.test(s)) throw new PolicyError(`${at}.${k}: invalid label value ${JSON.stringify(s)}`);
    out[k] = s;
  }
  return out;
}

export function parseSelector(v: unknown, at: string): LabelSelector {
  const o = obj(v, at);
  const matchExpressions = list(o.matchExpressions, `${at}.matchExpressions`).map((e, i) => {
    const where = `${at}.matchExpressions[${i}]`;
    const r = obj(e, where);
    const key = str(r.key, `${where}.key`);
    if (!LABEL_KEY.test(key)) throw new PolicyError(`${where}.key: invalid label key ${JSON.stringify(key)}`);
    const operator = str(r.operator, `${where}.operator`);
    const values = list(r.values, `${where}.values`).map((x, j) => str(x, `${where}.values[${j}]`));
    if (operator === 'In' || operator === 'NotIn') {
      if (!values.length) throw new PolicyError(`${where}.values: must be non-empty for ${operator}`);
    } else if (operator === 'Exists' || operator === 'DoesNotExist') {
      if (values.length) throw new PolicyError(`${where}.values: must be empty for ${operator}`);
    } else
      throw new PolicyError(`${where}.operator: ${JSON.stringify(operator)} is not In, NotIn, Exists or DoesNotExist`);
    return { key, operator: operator as Operator, values };
  });
  return { matchLabels: parseLabels(o.matchLabels, `${at}.matchLabels`), matchExpressions };
}

function parseIPBlock(v: unknown, at: string): IPBlock {
  const o = obj(v, at);
  const cidr = str(o.cidr, `${at}.cidr`);
  const c = mustCIDRAt(cidr, `${at}.cidr`);
  const except = list(o.except, `${at}.except`).map((x, i) => {
    const where = `${at}.except[${i}]`;
    const e = mustCIDRAt(str(x, where), where);
    if (e.ip.family !== c.ip.family || e.prefix < c.prefix || !cidrContains(c, e.ip))
      throw new PolicyError(`${where}: must be within ${cidr}`);
    return str(x, where);
  });
  return { cidr, except };
}

function mustCIDRAt(text: string, at: string) {
  try {
    return mustCIDR(text, at);
  } catch {
    throw new PolicyError(`${at}: ${JSON.stringify(text)} is not a CIDR`);
  }
}

function parsePeer(v: unknown, at: string): Peer {
  const o = obj(v, at);
  const peer: Peer = {};
  if (o.podSelector !== undefined) peer.podSelector = parseSelector(o.podSelector, `${at}.podSelector`);
  if (o.namespaceSelector !== undefined)
    peer.namespaceSelector = parseSelector(o.namespaceSelector, `${at}.namespaceSelector`);
  if (o.ipBlock !== undefined) {
    if (peer.podSelector || peer.namespaceSelector)
      throw new PolicyError(`${at}: ipBlock cannot be combined with a selector`);
    peer.ipBlock = parseIPBlock(o.ipBlock, `${at}.ipBlock`);
  }
  if (!peer.podSelector && !peer.namespaceSelector && !peer.ipBlock)
    throw new PolicyError(`${at}: needs podSelector, namespaceSelector or ipBlock`);
  return peer;
}

function parsePort(v: unknown, at: string): PolicyPort {
  const o = obj(v, at);
  const protocol = o.protocol === undefined ? 'TCP' : str(o.protocol, `${at}.protocol`);
  if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP')
    throw new PolicyError(`${at}.protocol: ${JSON.stringify(protocol)} is not TCP, UDP or SCTP`);
  const p: PolicyPort = { protocol };
  const num = (x: unknown, where: string) => {
    if (typeof x === 'string') throw new PolicyError(`${where}: named ports are not supported (use the number)`);
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > 65535)
      throw new PolicyError(`${where}: must be a port number 1-65535`);
    return x;
  };
  if (o.port !== undefined) p.port = num(o.port, `${at}.port`);
  if (o.endPort !== undefined) {
    if (p.port === undefined) throw new PolicyError(`${at}.endPort: needs port`);
    p.endPort = num(o.endPort, `${at}.endPort`);
    if (p.endPort < p.port) throw new PolicyError(`${at}.endPort: must be at least port`);
  }
  return p;
}

function parseRules(v: unknown, peerField: 'from' | 'to', at: string): Rule[] {
  return list(v, at).map((r, i) => {
    const o = obj(r, `${at}[${i}]`);
    return {
      peers: list(o[peerField], `${at}[${i}].${peerField}`).map((p, j) =>
        parsePeer(p, `${at}[${i}].${peerField}[${j}]`),
      ),
      ports: list(o.ports, `${at}[${i}].ports`).map((p, j) => parsePort(p, `${at}[${i}].ports[${j}]`)),
    };
  });
}

/** Parses one NetworkPolicy object; `defaultNamespace` applies when metadata.namespace is absent. */
export function parseNetworkPolicy(v: unknown, defaultNamespace = 'default'): NetworkPolicy {
  const o = obj(v, 'policy');
  if (o.apiVersion !== 'networking.k8s.io/v1')
    throw new PolicyError(`apiVersion: must be networking.k8s.io/v1, not ${JSON.stringify(o.apiVersion)}`);
  if (o.kind !== 'NetworkPolicy') throw new PolicyError(`kind: must be NetworkPolicy, not ${JSON.stringify(o.kind)}`);
  const meta = obj(o.metadata, 'metadata');
  if (!isObjectName(meta.name))
    throw new PolicyError(`metadata.name: ${JSON.stringify(meta.name)} is not a valid name`);
  const namespace = meta.namespace ?? defaultNamespace;
  if (!isNamespaceName(namespace))
    throw new PolicyError(`metadata.namespace: ${JSON.stringify(namespace)} is not a valid namespace`);
  const spec = obj(o.spec, 'spec');
  if (spec.podSelector === undefined)
    throw new PolicyError('spec.podSelector: required (use {} for every pod of the namespace)');
  const ingress = parseRules(spec.ingress, 'from', 'spec.ingress');
  const egress = parseRules(spec.egress, 'to', 'spec.egress');
  let policyTypes: PolicyType[];
  if (spec.policyTypes === undefined || (Array.isArray(spec.policyTypes) && !spec.policyTypes.length)) {
    // The API server's defaulting: Ingress always, Egress when egress rules are present.
    policyTypes =
      spec.egress !== undefined && spec.egress !== null && egress.length ? ['Ingress', 'Egress'] : ['Ingress'];
  } else {
    policyTypes = [
      ...new Set(
        list(spec.policyTypes, 'spec.policyTypes').map((t, i) => {
          if (t !== 'Ingress' && t !== 'Egress')
            throw new PolicyError(`spec.policyTypes[${i}]: ${JSON.stringify(t)} is not Ingress or Egress`);
          return t as PolicyType;
        }),
      ),
    ];
  }
  return {
    name: meta.name,
    namespace,
    podSelector: parseSelector(spec.podSelector, 'spec.podSelector'),
    policyTypes,
    ingress,
    egress,
  };
}

/** Back to the Kubernetes JSON shape (what is stored in etcd and printed by the CLI). */
export function toKubernetes(p: NetworkPolicy): Obj {
  const sel = (s: LabelSelector): Obj => ({
    ...(Object.keys(s.matchLabels).length ? { matchLabels: s.matchLabels } : {}),
    ...(s.matchExpressions.length
      ? {
          matchExpressions: s.matchExpressions.map((e) => (e.values.length ? e : { key: e.key, operator: e.operator })),
        }
      : {}),
  });
  const peer = (x: Peer): Obj => ({
    ...(x.podSelector ? { podSelector: sel(x.podSelector) } : {}),
    ...(x.namespaceSelector ? { namespaceSelector: sel(x.namespaceSelector) } : {}),
    ...(x.ipBlock ? { ipBlock: x.ipBlock.except.length ? x.ipBlock : { cidr: x.ipBlock.cidr } } : {}),
  });
  const rules = (rs: Rule[], field: string) =>
    rs.map((r) => ({
      ...(r.peers.length ? { [field]: r.peers.map(peer) } : {}),
      ...(r.ports.length ? { ports: r.ports } : {}),
    }));
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: p.name, namespace: p.namespace },
    spec: {
      podSelector: sel(p.podSelector),
      policyTypes: p.policyTypes,
      ...(p.ingress.length ? { ingress: rules(p.ingress, 'from') } : {}),
      ...(p.egress.length ? { egress: rules(p.egress, 'to') } : {}),
    },
  };
}
