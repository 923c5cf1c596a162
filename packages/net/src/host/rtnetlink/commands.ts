import { homeNetnsPath } from '../home-netns';
import { formatIP, parseIP } from '../ipaddr';

/**
 * The `ip` invocations done in-process: the subset of `ip [-j] [-d] [-batch -]` commands the plugins' hot paths use,
 * parsed up front. Anything else (another option, object or keyword, an odd name) is `undefined`, and the whole
 * invocation goes to `ip` unchanged.
 */

/** An address as `ip` would send it: family and bytes. */
export interface Addr {
  family: 4 | 6;
  bytes: Uint8Array;
}

export type Command =
  /** `link set dev X [up|down] [promisc on|off] [master M] [mtu N]`, at least one of them. */
  | { op: 'link-set'; dev: string; up?: boolean; promisc?: boolean; master?: string; mtu?: number }
  /** `link set dev X type bridge_slave [hairpin on|off] [isolated on|off]`. */
  | { op: 'bridge-port'; dev: string; hairpin?: boolean; isolated?: boolean }
  /** `link add X [mtu N] [address MAC] type veth peer name Y [mtu N] [netns HOME]` (HOME: `homeNetnsPath()` only). */
  | { op: 'veth-add'; name: string; mtu?: number; mac?: Uint8Array; peer: string; peerMtu?: number; peerHome: boolean }
  /** `addr add A/LEN dev X [nodad] [noprefixroute]` (nodad: IPv6 only). */
  | { op: 'addr-add'; dev: string; addr: Addr; prefixlen: number; nodad: boolean; noprefixroute: boolean }
  | {
      op: 'route-add';
      dev: string;
      dst: Addr;
      dstLen: number;
      gw?: Addr;
      metric?: number;
      table?: number;
      scope?: number;
      src?: Addr;
    }
  /** `link add name X [txqueuelen N] type ifb`. */
  | { op: 'ifb-add'; name: string; txqlen?: number }
  | { op: 'link-show'; dev: string }
  /** `link show`: every link of the namespace. */
  | { op: 'links-show' }
  /** `route get ADDR`. */
  | { op: 'route-get'; dst: Addr }
  | { op: 'addr-show'; dev: string; scope?: number }
  | { op: 'link-del'; dev: string };

export interface Invocation {
  json: boolean;
  details: boolean;
  /** `-batch -`: errors end with `Command failed -:N`. */
  batch: boolean;
  commands: Command[];
  /** Each command's words as given (for the rest of a batch handed to `ip`). */
  lines: string[][];
}

/**
 * A name `ip` takes as it is (check_ifname: 1–15 bytes, no `/` or space), and no `@`/`:` that ip may read:
 * `[A-Za-z0-9_.-]{1,15}`, not `.` or `..`. (By hand: a regular expression's first use costs ≈ 0.1 ms of CPU.)
 */
function devName(s: string | undefined): string | undefined {
  if (s === undefined || s.length < 1 || s.length > 15 || s === '.' || s === '..') return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 || c === 45;
    if (!ok) return undefined;
  }
  return s;
}

/** A decimal number without sign or leading zeros, at most `max`. */
function num(s: string | undefined, max = 0xffffffff): number | undefined {
  if (s === undefined || s.length < 1 || s.length > 10 || (s.length > 1 && s[0] === '0')) return undefined;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 48 || s.charCodeAt(i) > 57) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
}

const onOff = (s: string | undefined): boolean | undefined => (s === 'on' ? true : s === 'off' ? false : undefined);

const hexDigit = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;

/** `aa:bb:cc:dd:ee:ff` (lower or upper case) as 6 bytes. */
function mac(s: string | undefined): Uint8Array | undefined {
  if (s === undefined || s.length !== 17) return undefined;
  const b = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    if (i && s[3 * i - 1] !== ':') return undefined;
    const hi = hexDigit(s.charCodeAt(3 * i));
    const lo = hexDigit(s.charCodeAt(3 * i + 1));
    if (hi < 0 || lo < 0) return undefined;
    b[i] = (hi << 4) | lo;
  }
  return b;
}

/** An address in the canonical text our callers write (anything else: `ip` parses it). */
function addr(s: string | undefined): Addr | undefined {
  const ip = s === undefined ? undefined : parseIP(s);
  if (!ip || formatIP(ip) !== s) return undefined;
  const n = ip.family === 4 ? 4 : 16;
  const bytes = new Uint8Array(n);
  let v = ip.value;
  for (let i = n - 1; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return { family: ip.family, bytes };
}

/** `ADDR/LEN`, canonical, the length within the family's. */
function prefix(s: string | undefined): { addr: Addr; len: number } | undefined {
  const slash = s?.indexOf('/') ?? -1;
  if (s === undefined || slash < 0) return undefined;
  const a = addr(s.slice(0, slash));
  const len = num(s.slice(slash + 1), 128);
  return a && len !== undefined && len <= (a.family === 4 ? 32 : 128) ? { addr: a, len } : undefined;
}

function linkSet(dev: string, rest: string[]): Command | undefined {
  if (rest[0] === 'type') {
    if (rest[1] !== 'bridge_slave' || rest.length < 4 || rest.length % 2) return undefined;
    const c: Command = { op: 'bridge-port', dev };
    for (let i = 2; i < rest.length; i += 2) {
      const v = onOff(rest[i + 1]);
      if (v === undefined) return undefined;
      if (rest[i] === 'hairpin' && c.hairpin === undefined) c.hairpin = v;
      else if (rest[i] === 'isolated' && c.isolated === undefined) c.isolated = v;
      else return undefined;
    }
    return c;
  }
  const c: Command = { op: 'link-set', dev };
  for (let i = 0; i < rest.length;) {
    const w = rest[i];
    if ((w === 'up' || w === 'down') && c.up === undefined) {
      c.up = w === 'up';
      i++;
    } else if (w === 'promisc' && c.promisc === undefined && onOff(rest[i + 1]) !== undefined) {
      c.promisc = onOff(rest[i + 1]);
      i += 2;
    } else if (w === 'master' && c.master === undefined && devName(rest[i + 1])) {
      c.master = rest[i + 1];
      i += 2;
    } else if (w === 'mtu' && c.mtu === undefined && num(rest[i + 1]) !== undefined) {
      c.mtu = num(rest[i + 1]);
      i += 2;
    } else return undefined;
  }
  return rest.length ? c : undefined;
}

/** `link add X [mtu N] [address MAC] type veth peer name Y [mtu N] [netns HOME]`. */
function vethAdd(w: string[]): Command | undefined {
  const name = devName(w[2]);
  let i = 3;
  let mtu: number | undefined;
  let m: Uint8Array | undefined;
  if (w[i] === 'mtu') {
    mtu = num(w[i + 1]);
    if (mtu === undefined) return undefined;
    i += 2;
  }
  if (w[i] === 'address') {
    m = mac(w[i + 1]);
    if (!m) return undefined;
    i += 2;
  }
  if (w[i] !== 'type' || w[i + 1] !== 'veth' || w[i + 2] !== 'peer' || w[i + 3] !== 'name') return undefined;
  const peer = devName(w[i + 4]);
  i += 5;
  let peerMtu: number | undefined;
  if (w[i] === 'mtu') {
    peerMtu = num(w[i + 1]);
    if (peerMtu === undefined) return undefined;
    i += 2;
  }
  let peerHome = false;
  if (w[i] === 'netns') {
    // Only this process's own namespace, which the kernel gets as this thread's namespace fd.
    if (w[i + 1] !== homeNetnsPath()) return undefined;
    peerHome = true;
    i += 2;
  }
  if (!name || !peer || i !== w.length) return undefined;
  return { op: 'veth-add', name, mtu, mac: m, peer, peerMtu, peerHome };
}

/** `link add name X [txqueuelen N] type ifb`. */
function ifbAdd(w: string[]): Command | undefined {
  const name = devName(w[3]);
  let i = 4;
  let txqlen: number | undefined;
  if (w[i] === 'txqueuelen') {
    txqlen = num(w[i + 1]);
    if (txqlen === undefined) return undefined;
    i += 2;
  }
  if (!name || w[i] !== 'type' || w[i + 1] !== 'ifb' || i + 2 !== w.length) return undefined;
  return { op: 'ifb-add', name, txqlen };
}

/** iproute2's scope names (rt_scopes). */
const SCOPES: Record<string, number> = { global: 0, universe: 0, site: 200, link: 253, host: 254, nowhere: 255 };

/** `route add DST [via GW] dev X [metric N] [table N] [scope S] [src IP]` (DST a prefix, GW and IP of its family). */
function routeAdd(w: string[]): Command | undefined {
  const dst = prefix(w[2]);
  if (!dst) return undefined;
  let i = 3;
  let gw: Addr | undefined;
  if (w[i] === 'via') {
    gw = addr(w[i + 1]);
    if (!gw || gw.family !== dst.addr.family) return undefined;
    i += 2;
  }
  if (w[i] !== 'dev' || !devName(w[i + 1])) return undefined;
  const c: Command = { op: 'route-add', dev: w[i + 1], dst: dst.addr, dstLen: dst.len, gw };
  for (i += 2; i < w.length; i += 2) {
    if (w[i] === 'src' && !c.src) {
      c.src = addr(w[i + 1]);
      if (!c.src || c.src.family !== c.dst.family) return undefined;
      continue;
    }
    const v = w[i] === 'scope' && w[i + 1] !== undefined && w[i + 1] in SCOPES ? SCOPES[w[i + 1]] : num(w[i + 1]);
    if (v === undefined) return undefined;
    if (w[i] === 'metric' && c.metric === undefined) c.metric = v;
    else if (w[i] === 'table' && c.table === undefined && v > 0) c.table = v;
    else if (w[i] === 'scope' && c.scope === undefined && v <= 255) c.scope = v;
    else return undefined;
  }
  return c;
}

function parseCommand(w: string[], json: boolean): Command | undefined {
  const [obj, verb, ...rest] = w;
  if (obj === 'link' && verb === 'set' && rest[0] === 'dev' && devName(rest[1]) && rest.length > 2)
    return linkSet(rest[1], rest.slice(2));
  if (obj === 'link' && verb === 'add' && w[2] === 'name') return ifbAdd(w);
  if (obj === 'link' && verb === 'add' && w.length > 3) return vethAdd(w);
  if (obj === 'addr' && verb === 'add' && rest.length >= 3) {
    const p = prefix(rest[0]);
    if (!p || rest[1] !== 'dev' || !devName(rest[2])) return undefined;
    const c: Command = {
      op: 'addr-add',
      dev: rest[2],
      addr: p.addr,
      prefixlen: p.len,
      nodad: false,
      noprefixroute: false,
    };
    for (const flag of rest.slice(3)) {
      if (flag === 'nodad' && !c.nodad && p.addr.family === 6) c.nodad = true;
      else if (flag === 'noprefixroute' && !c.noprefixroute) c.noprefixroute = true;
      else return undefined;
    }
    return c;
  }
  if (obj === 'route' && verb === 'add') return routeAdd(w);
  if (obj === 'link' && verb === 'show' && json && rest.length === 0) return { op: 'links-show' };
  if (obj === 'route' && verb === 'get' && json && rest.length === 1) {
    const dst = addr(rest[0]);
    return dst ? { op: 'route-get', dst } : undefined;
  }
  if (obj === 'link' && verb === 'show' && json && rest.length === 2 && rest[0] === 'dev') {
    const dev = devName(rest[1]);
    return dev ? { op: 'link-show', dev } : undefined;
  }
  if (
    obj === 'addr' &&
    verb === 'show' &&
    json &&
    rest[0] === 'dev' &&
    (rest.length === 2 || (rest.length === 4 && rest[2] === 'scope' && rest[3] === 'global'))
  ) {
    const dev = devName(rest[1]);
    return dev ? { op: 'addr-show', dev, ...(rest.length === 4 ? { scope: 0 } : {}) } : undefined;
  }
  if (obj === 'link' && verb === 'del' && rest.length === 2 && rest[0] === 'dev') {
    const dev = devName(rest[1]);
    return dev ? { op: 'link-del', dev } : undefined;
  }
  return undefined;
}

/** `ip` argv (+ the batch on stdin) as commands, or undefined when any part is outside the subset. */
export function parseInvocation(args: readonly string[], input: string | undefined): Invocation | undefined {
  let json = false;
  let details = false;
  let i = 0;
  for (; i < args.length && args[i].startsWith('-'); i++) {
    if (args[i] === '-j') json = true;
    else if (args[i] === '-d') details = true;
    else if (args[i] === '-batch' && args[i + 1] === '-' && i + 2 === args.length) break;
    else return undefined;
  }
  const batch = args[i] === '-batch';
  let lines: string[][];
  if (batch) {
    if (input === undefined || !input.endsWith('\n')) return undefined;
    lines = input
      .slice(0, -1)
      .split('\n')
      .map((l) => l.split(' '));
  } else {
    if (input !== undefined) return undefined;
    lines = [args.slice(i)];
  }
  const commands: Command[] = [];
  for (const words of lines) {
    const c = parseCommand(words, json);
    if (!c) return undefined;
    commands.push(c);
  }
  return commands.length ? { json, details, batch, commands, lines } : undefined;
}
