/** iptables/nft wrappers and ip-masq on top of the host layer. */
export * from './iptables';
export * from './nft';
export * from './ipmasq';
export * from './ipmasq-nft';
export * from './ipmasq-state';
export * from './iptables-script';
