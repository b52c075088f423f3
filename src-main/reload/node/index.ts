export * from './reload-node';
