/**
 * The planner: where a new instance goes. Placement is a pure function of the hosts (status,
 * architectures, CPUs, memory, instances including placements in flight), the request (`?target`,
 * architecture, memory limit) and the strategy (`random`, `scatter`, `gather`, with the seed's score).
 * The chosen strategy is persisted through the store's config table.
 */
export {
  DEFAULT_STRATEGY,
  STRATEGIES,
  describeRejection,
  freeMemory,
  isStrategy,
  parseMemoryLimit,
  place,
  score,
} from './planner.js';
export type {
  Candidate,
  Placement,
  PlacementRequest,
  PlannerOptions,
  Rejection,
  Strategy,
} from './planner.js';
export { STRATEGY_KEY, readStrategy, writeStrategy } from './settings.js';
export type { StrategyStore } from './settings.js';
