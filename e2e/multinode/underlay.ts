/**
 * The "physical" network between simulated nodes: a bridge in a namespace of its own (never the root
 * namespace), and per node a veth whose node end is that node's `eth0` with an address on 198.18.0.0/24
 * (the benchmarking range, RFC 2544: nothing real lives there) and, for dual-stack suites, one on the
 * unique-local fd00:198:18::/64.
 */
import { TestNode, uniqueName } from '@tscni/testing/node';

const BRIDGE = 'ul0';
const PREFIX = '198.18.0';
const PREFIX6 = 'fd00:198:18:';

/** A node's IPv6 underlay address (dual-stack suites). */
export const underlayIp6 = (index: number): string => `${PREFIX6}:${10 + index}`;

export class Underlay {
  /** The namespace holding the bridge (a TestNode only for its naming and clean-up). */
  readonly ns = new TestNode('ul');

  constructor() {
    this.ns.exec('ip', ['-batch', '-'], { input: `link add ${BRIDGE} type bridge\nlink set ${BRIDGE} up\n` });
  }

  /**
   * Plug `node` into the bridge as its `eth0` with address 198.18.0.<10 + index>/24 (and, with `ipv6`,
   * fd00:198:18::<10 + index>/64, usable at once: no duplicate address detection); returns the IPv4 address.
   */
  attach(node: TestNode, index: number, opts: { ipv6?: boolean } = {}): string {
    const port = uniqueName('u');
    const ip = `${PREFIX}.${10 + index}`;
    this.ns.exec('ip', ['-batch', '-'], {
      input: `link add ${port} type veth peer name eth0 netns ${node.name}\nlink set ${port} master ${BRIDGE} up\n`,
    });
    const v6 = opts.ipv6 ? `addr add ${underlayIp6(index)}/64 dev eth0 nodad\n` : '';
    node.exec('ip', ['-batch', '-'], { input: `addr add ${ip}/24 dev eth0\n${v6}link set eth0 up\n` });
    return ip;
  }

  destroy(): void {
    this.ns.destroy();
  }
}
