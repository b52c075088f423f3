export * from './errors';
export * from './message-transport';
export * from './topology';
export * from './basic-methods';
export * from './link-table';
export * from './attach-service';
export * from './request-router';
