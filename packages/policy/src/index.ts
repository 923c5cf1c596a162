export * from './model';
export * from './evaluate';
export * from './schema';
export * from './etcd-gateway';
export * from './ranges';
