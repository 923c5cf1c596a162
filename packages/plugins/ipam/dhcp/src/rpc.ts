/**
 * The plugin ↔ daemon protocol is the reference's: Go net/rpc over HTTP on the unix socket (`CONNECT /_goRPC_`,
 * then gob). Every method takes skel.CmdArgs (the invocation's parameters and its raw config); the daemon reads
 * the config itself, as the reference daemon does. `DHCP.Allocate` replies with a current.Result,
 * `DHCP.Release` with struct{}. tscni adds `DHCP.Check` (prevResult's address in StdinData), `DHCP.GC`
 * (`cni.dev/valid-attachments` in StdinData) and `DHCP.Ping`; a reference daemon answers those with
 * "rpc: can't find method", which the plugin treats as described in dhcp.ts.
 */
export const DEFAULT_SOCKET_PATH = '/run/cni/dhcp.sock';

export type Method = 'DHCP.Allocate' | 'DHCP.Release' | 'DHCP.Check' | 'DHCP.GC' | 'DHCP.Ping';

/** Who the lease is for and what to ask the server. */
export interface LeaseRequest {
  /** `<containerID>/<network>/<ifName>`, at most 254 bytes. */
  clientID: string;
  containerID: string;
  /** The network name (GC releases the leases of one network). */
  network: string;
  netns: string;
  ifName: string;
  /** Option codes for the parameter request list (55). */
  request: number[];
  /** Options sent to the server: [code, value]. */
  provide: [number, string][];
}

export interface LeaseInfo {
  /** `ip/prefix` from yiaddr and the subnet mask. */
  address: string;
  gateway?: string;
  routes: { dst: string; gw?: string }[];
  /** Unix ms when the lease runs out (not on the wire). */
  expires?: number;
}

/** skel.CmdArgs as it travels (Go field names). */
export interface WireCmdArgs {
  ContainerID: string;
  Netns: string;
  IfName: string;
  Args: string;
  Path: string;
  StdinData: Buffer;
}
