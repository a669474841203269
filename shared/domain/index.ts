// The pure rules of ZSA: no I/O, no clock, no randomness. Callers pass `now` and generated ids.
export * from './errors';
export * from './names';
export * from './time';
export * from './catalog';
export * from './policy';
export * from './pam';
export * from './request';
