/**
 * Fleet tasks: fleet-wide work (image distribution, profile changes) as journaled steps, one per host,
 * that either all succeed or are all undone — also when the manager was killed in the middle, because
 * the journal is in the store and a restart finishes the rollback.
 */
export { FleetStepError, FleetTask, FleetTaskRunner, MANAGER_TARGET } from './runner.js';
export type { FleetTaskRunnerOptions, FleetTaskSpec, StepHandle, UndoAction, UndoHandler } from './runner.js';
export { KeyedLock } from './lock.js';
export { FleetSync } from './sync.js';
export type { DriftItem, FleetSyncOptions, Reconciler, SyncReport } from './sync.js';
