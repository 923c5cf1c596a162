/** TestNode (a throwaway "node" namespace) and the kernel-test helpers around it: pods, traffic, link kinds, recorded commands. */
export * from './test-node';
export * from './pods';
export * from './traffic';
export * from './kernel';
export * from './tool-log';
