export * from './chord/ring';
export * from './chord/chord-routing-table';
