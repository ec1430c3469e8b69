export * from './addr.js';
export * from './assert.js';
export * from './bytes.js';
export * from './checksum.js';
export * from './drop.js';
export * from './errors.js';
export * from './log.js';
