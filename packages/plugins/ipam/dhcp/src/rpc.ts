/**
 * The plugin ↔ daemon protocol: one JSON request line on the unix socket, one JSON response line back.
 * (The reference speaks Go net/rpc; only the socket path, the flags and the error texts are kept.)
 */
export const DEFAULT_SOCKET_PATH = '/run/cni/dhcp.sock';

export type Method = 'DHCP.Allocate' | 'DHCP.Release' | 'DHCP.Check' | 'DHCP.GC' | 'DHCP.Ping';

/** Who the lease is for and what to ask the server. The plugin has validated every field. */
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
  /** Unix ms when the lease runs out. */
  expires: number;
}

/** Extra parameters: CHECK's expected address; GC's network and the attachments to keep. */
export interface RpcParams extends Partial<LeaseRequest> {
  address?: string;
  valid?: { containerID: string; ifname: string }[];
}

export interface RpcRequest {
  method: Method;
  params: RpcParams;
}

export type RpcResponse = { result: LeaseInfo | Record<string, never> } | { error: string };
