export * from './reload-node';
export * from './node-storage';
