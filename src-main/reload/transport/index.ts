export * from './errors';
export * from './message-transport';
export * from './topology';
