/** The overlay configuration document: parse, validate, sign, accept, serialize. */
export * from './accept';
export * from './errors';
export * from './model';
export * from './parse';
export * from './serialize';
export * from './signature';
export * from './create';
export * from './fetch';
export * from './local-overlay';
export * from './sequence';
export * from './kind-block';
