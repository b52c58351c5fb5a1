/** Public API of the XDM model: class schemas, the class registry, and source-key helpers. */
export * from './class-spec';
export * from './source-key';
export * from './common';
export * from './classes';
export * from './registry';
