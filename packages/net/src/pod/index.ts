/** The plugin kit: a pod's interface (veth, master links, ipam.ConfigureIface), IPAM delegation and routes, link checks and link-conf. Uses the host and netfilter layers. */
export * from './configure-iface';
export * from './pod-link';
export * from './master-link';
export * from './link-conf';
export * from './link-attachment';
export * from './link-check';
export * from './veth';
export * from './ipam-routes';
export * from './route-copy';
export * from './ranked-steps';
