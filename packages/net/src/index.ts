// The whole library; new code imports the layer it needs: @tscni/net/host, @tscni/net/netfilter, @tscni/net/pod.
export * from './host';
export * from './netfilter';
export * from './pod';
