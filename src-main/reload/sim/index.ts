export * from './overlay-simulation';
