export * from './chord/ring';
export * from './chord/chord-routing-table';
export * from './chord/chord-overlay';
export * from './chord/self-tuning';
export * from './chord/chord-probe';
