/**
 * Operations: the manager's own long-running work (trust tokens, fleet tasks), stored durably and
 * published as LXD operation events.
 */
export { OperationRegistry, isFinal } from './registry.js';
export type { OperationSpec, OperationContext } from './registry.js';
export { OperationRouter } from './router.js';
