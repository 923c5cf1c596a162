export * from './model';
export * from './evaluate';
export * from './schema';
export * from './ranges';
