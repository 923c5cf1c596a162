import { addrJson, addrMsg } from './addr-json';
import type { Command } from './commands';
import { INFO } from './link-json';
import { IpFailure, kernelError } from './errors';
import { IFLA, linkJson, linkMsg, type LinkMsg, type Resolve } from './link-json';
import { NLM_F_CREATE, NLM_F_EXCL, Request } from './message';
import type { RtSocket } from './socket';
import { routeJson } from './route-json';
import { ascii } from './text';

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_GETADDR = 22;
const RTM_NEWADDR = 20;
const RTM_NEWROUTE = 24;
const RTM_GETROUTE = 26;
const RTM_F_LOOKUP_TABLE = 0x1000;
const IFF_PROMISC = 0x100;
const AF_INET = 2;
const AF_INET6 = 10;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_F_NODAD = 0x02;
const IFA_FLAGS = 8;
const IFA_F_NOPREFIXROUTE = 0x200;
const RTA_PREFSRC = 7;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_TABLE = 15;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_HOST = 254;
const RTN_UNICAST = 1;
const VETH_INFO_PEER = 1;
const IFLA_BRPORT_MODE = 4;
const IFLA_BRPORT_ISOLATED = 33;
const CREATE = NLM_F_CREATE | NLM_F_EXCL;
const IFLA_EXT_MASK = 29;
const RTEXT_FILTER_SKIP_STATS = 1 << 3;
const ENODEV = 19;
const IFF_UP = 0x1;

/** ifinfomsg: family AF_UNSPEC, type, index, flags, change. */
const ifinfo = (type: number, index: number, flags = 0, change = 0, nlFlags = 0): Request =>
  new Request(type, nlFlags).header(16, [4, index, 8, flags, 12, change]);

/** Send a change; an error is ip's. */
function change(sock: RtSocket, req: Request): string {
  const a = sock.talk(req);
  if (a.errno) throw kernelError(a.errno, a.message);
  return '';
}

/** The index of `dev`, as `ip` resolves `dev X` of a change (ll_name_to_index). */
function indexOf(sock: RtSocket, dev: string): number {
  const l = getLink(sock, dev);
  if (!l) throw new IpFailure(`Cannot find device "${dev}"`);
  return l.index;
}

/** A link by name or index, or undefined when there is none. */
function getLink(sock: RtSocket, by: string | number): LinkMsg | undefined {
  const req = ifinfo(RTM_GETLINK, typeof by === 'number' ? by : 0);
  if (typeof by === 'string') req.str(IFLA.IFNAME, by);
  req.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  const a = sock.talk(req);
  if (a.errno === ENODEV) return undefined;
  if (a.errno) throw kernelError(a.errno, a.message);
  for (const r of a.replies) if (r.type === RTM_NEWLINK) return linkMsg(r.body);
  return undefined;
}

const resolver =
  (sock: RtSocket): Resolve =>
  (index) => {
    const l = getLink(sock, index);
    const name = l?.attrs.get(IFLA.IFNAME);
    return l && name
      ? { name: new TextDecoder().decode(name.subarray(0, name.indexOf(0))), flags: l.flags }
      : undefined;
  };

const line = (objs: unknown[]): string => JSON.stringify(objs) + '\n';

/** Marks a read whose output this does not render exactly: `ip` runs it (and the rest of the batch). */
export const UNSURE = Symbol('unsure');

/** Run one command: what `ip` prints on stdout for it, UNSURE, or an IpFailure with its stderr. */
export function runCommand(sock: RtSocket, c: Command, details: boolean): string | typeof UNSURE {
  switch (c.op) {
    case 'link-set': {
      // ip resolves `master M` while parsing, before `dev`, and exits 255 on a missing one (invarg): ip says it.
      const master = c.master === undefined ? undefined : getLink(sock, c.master);
      if (c.master !== undefined && !master) return UNSURE;
      const index = indexOf(sock, c.dev);
      let flags = 0;
      let mask = 0;
      if (c.up !== undefined) [flags, mask] = [c.up ? IFF_UP : 0, IFF_UP];
      if (c.promisc !== undefined) [flags, mask] = [flags | (c.promisc ? IFF_PROMISC : 0), mask | IFF_PROMISC];
      const req = ifinfo(RTM_NEWLINK, index, flags, mask);
      if (c.mtu !== undefined) req.u32(IFLA.MTU, c.mtu);
      if (master) req.u32(IFLA.MASTER, master.index);
      return change(sock, req);
    }
    case 'bridge-port': {
      const req = ifinfo(RTM_NEWLINK, indexOf(sock, c.dev));
      req.nest(IFLA.LINKINFO, (r) => {
        r.str(INFO.SLAVE_KIND, 'bridge');
        r.nest(INFO.SLAVE_DATA, (d) => {
          if (c.hairpin !== undefined) d.u8(IFLA_BRPORT_MODE, c.hairpin ? 1 : 0);
          if (c.isolated !== undefined) d.u8(IFLA_BRPORT_ISOLATED, c.isolated ? 1 : 0);
        });
      });
      return change(sock, req);
    }
    case 'veth-add': {
      const req = ifinfo(RTM_NEWLINK, 0, 0, 0, CREATE).str(IFLA.IFNAME, c.name);
      if (c.mtu !== undefined) req.u32(IFLA.MTU, c.mtu);
      if (c.mac) req.attr(IFLA.ADDRESS, c.mac);
      req.nest(IFLA.LINKINFO, (r) => {
        r.str(INFO.KIND, 'veth');
        r.nest(INFO.DATA, (d) =>
          d.nest(VETH_INFO_PEER, (p) => {
            p.header(16).str(IFLA.IFNAME, c.peer);
            if (c.peerMtu !== undefined) p.u32(IFLA.MTU, c.peerMtu);
            // `netns <our pid>`: this thread's own namespace, by fd (the pid would follow the main thread).
            if (c.peerHome) p.u32(IFLA.NET_NS_FD, sock.homeNsFd);
          }),
        );
      });
      return change(sock, req);
    }
    case 'ifb-add': {
      const req = ifinfo(RTM_NEWLINK, 0, 0, 0, CREATE);
      if (c.txqlen !== undefined) req.u32(IFLA.TXQLEN, c.txqlen);
      req.str(IFLA.IFNAME, c.name).nest(IFLA.LINKINFO, (r) => r.str(INFO.KIND, 'ifb'));
      return change(sock, req);
    }
    case 'addr-add': {
      const index = indexOf(sock, c.dev);
      const v4 = c.addr.family === 4;
      // iproute2's default_scope: host for 127/8, else global.
      const scope = v4 && c.addr.bytes[0] === 127 ? RT_SCOPE_HOST : 0;
      const req = new Request(RTM_NEWADDR, CREATE)
        .header(8, [4, index], [0, v4 ? AF_INET : AF_INET6, 1, c.prefixlen, 2, c.nodad ? IFA_F_NODAD : 0, 3, scope])
        .attr(IFA_LOCAL, c.addr.bytes)
        .attr(IFA_ADDRESS, c.addr.bytes);
      // Flags above 0xff only fit IFA_FLAGS (iproute2 then sends them all there).
      if (c.noprefixroute) req.u32(IFA_FLAGS, IFA_F_NOPREFIXROUTE | (c.nodad ? IFA_F_NODAD : 0));
      return change(sock, req);
    }
    case 'route-add': {
      const index = indexOf(sock, c.dev);
      const table = c.table ?? RT_TABLE_MAIN;
      const scope = c.scope ?? (c.gw ? 0 : RT_SCOPE_LINK);
      const req = new Request(RTM_NEWROUTE, CREATE).header(
        12,
        [],
        [
          0,
          c.dst.family === 4 ? AF_INET : AF_INET6,
          1,
          c.dstLen,
          4,
          table < 256 ? table : 0,
          5,
          RTPROT_BOOT,
          6,
          scope,
          7,
          RTN_UNICAST,
        ],
      );
      req.attr(RTA_DST, c.dst.bytes);
      if (c.gw) req.attr(RTA_GATEWAY, c.gw.bytes);
      if (c.src) req.attr(RTA_PREFSRC, c.src.bytes);
      req.u32(RTA_OIF, index);
      if (c.metric !== undefined) req.u32(RTA_PRIORITY, c.metric);
      if (table >= 256) req.u32(RTA_TABLE, table);
      return change(sock, req);
    }
    case 'link-del':
      return change(sock, ifinfo(RTM_DELLINK, indexOf(sock, c.dev)));
    case 'link-show': {
      const l = getLink(sock, c.dev);
      if (!l) throw new IpFailure(`Device "${c.dev}" does not exist.`);
      const o = linkJson(l, { details, linkShow: true }, resolver(sock));
      return o ? line([o]) : UNSURE;
    }
    case 'links-show': {
      const dump = sock.dump(ifinfo(RTM_GETLINK, 0).u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS));
      if (dump.errno) throw kernelError(dump.errno, dump.message);
      const links: LinkMsg[] = [];
      for (const r of dump.replies) if (r.type === RTM_NEWLINK) links.push(linkMsg(r.body));
      // Names and flags of the links the others point at (master, peer) from the dump itself, not one ask each.
      const byIndex = new Map<number, LinkMsg>();
      for (const l of links) byIndex.set(l.index, l);
      const resolve: Resolve = (index) => {
        const l = byIndex.get(index);
        const name = l && ascii(l.attrs.get(IFLA.IFNAME));
        return l && name !== undefined ? { name, flags: l.flags } : undefined;
      };
      const out: Record<string, unknown>[] = [];
      for (const l of links) {
        const o = linkJson(l, { details, linkShow: true }, resolve);
        if (!o) return UNSURE;
        out.push(o);
      }
      return line(out);
    }
    case 'route-get': {
      const v4 = c.dst.family === 4;
      // As ip asks: the address as RTA_DST of full length, IPv4 with RTM_F_LOOKUP_TABLE.
      const req = new Request(RTM_GETROUTE).header(12, v4 ? [8, RTM_F_LOOKUP_TABLE] : [], [
        0,
        v4 ? AF_INET : AF_INET6,
        1,
        v4 ? 32 : 128,
      ]);
      req.attr(RTA_DST, c.dst.bytes);
      const a = sock.talk(req);
      if (a.errno) throw kernelError(a.errno, a.message);
      for (const r of a.replies) {
        if (r.type !== RTM_NEWROUTE) continue;
        const o = routeJson(r.body, details, (index) => resolver(sock)(index)?.name);
        return o ? line([o]) : UNSURE;
      }
      return UNSURE;
    }
    case 'addr-show': {
      const l = getLink(sock, c.dev);
      if (!l) throw new IpFailure(`Device "${c.dev}" does not exist.`);
      const link = linkJson(l, { details, linkShow: false }, resolver(sock));
      if (!link) return UNSURE;
      const dump = sock.dump(new Request(RTM_GETADDR).header(8));
      if (dump.errno) throw kernelError(dump.errno, dump.message);
      // Plain loops: each array method's first use costs ≈ 0.05 ms of CPU in the executable.
      const info: Record<string, unknown>[] = [];
      let passed = 0;
      for (const r of dump.replies) {
        if (r.type !== RTM_NEWADDR) continue;
        const m = addrMsg(r.body);
        if (m.index !== l.index) continue;
        const o = addrJson(m, c.scope);
        if (!o) return UNSURE;
        if (c.scope === undefined || m.scope === c.scope) passed++;
        info.push(o);
      }
      // iproute2 drops a link that has addresses of which none passes the filter (ipaddr_filter), keeps one with none.
      if (info.length && !passed) return line([]);
      link.addr_info = info;
      return line([link]);
    }
  }
}
