export * from './chord/ring';
export * from './chord/chord-routing-table';
export * from './chord/chord-overlay';
