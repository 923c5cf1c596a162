/** The Linux host: spawning tools (argument arrays only), links, addresses, routes, netns, sysctl, tc, locks, CIDR maths. No zod, no CNI types. */
export * from './runner';
export * from './safe-arg';
export * from './ip';
export * from './link';
export * from './addr';
export * from './route';
export * from './sysctl';
export * from './netns';
export * from './names';
export * from './lock';
export * from './ipaddr';
export * from './tc';
export * from './state-file';
export * from './command-error';
export * from './ip-json';
export * from './side-by-side';
