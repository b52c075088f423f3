export * from './reload-node';
export * from './node-storage';
export * from './usages';
