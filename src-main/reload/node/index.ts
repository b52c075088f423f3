export * from './reload-node';
export * from './node-storage';
export * from './usages';
export * from './partition-check';
export * from './config-update';
