/**
 * The "physical" network between simulated nodes: a bridge in a namespace of its own (never the root
 * namespace), and per node a veth whose node end is that node's `eth0` with an address on 198.18.0.0/24
 * (the benchmarking range, RFC 2544: nothing real lives there).
 */
import { TestNode, uniqueName } from '@tscni/testing/node';

const BRIDGE = 'ul0';
const PREFIX = '198.18.0';

export class Underlay {
  /** The namespace holding the bridge (a TestNode only for its naming and clean-up). */
  readonly ns = new TestNode('ul');

  constructor() {
    this.ns.exec('ip', ['-batch', '-'], { input: `link add ${BRIDGE} type bridge\nlink set ${BRIDGE} up\n` });
  }

  /** Plug `node` into the bridge as its `eth0` with address 198.18.0.<10 + index>/24; returns that address. */
  attach(node: TestNode, index: number): string {
    const port = uniqueName('u');
    const ip = `${PREFIX}.${10 + index}`;
    this.ns.exec('ip', ['-batch', '-'], { input: `link add ${port} type veth peer name eth0 netns ${node.name}\nlink set ${port} master ${BRIDGE} up\n` });
    node.exec('ip', ['-batch', '-'], { input: `addr add ${ip}/24 dev eth0\nlink set eth0 up\n` });
    return ip;
  }

  destroy(): void {
    this.ns.destroy();
  }
}
