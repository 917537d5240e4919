import { DEFAULT_STRATEGY, isStrategy, type Strategy } from './planner.js';

/** Where the chosen strategy is kept in the store's config table. */
export const STRATEGY_KEY = 'planner.strategy';

/** The part of the store the planner's setting needs. */
export interface StrategyStore {
  getConfig(key: string): Promise<string | undefined>;
  setConfig(key: string, value: string | undefined): Promise<void>;
}

/** The strategy in force: the stored one, or `random` when none (or an unknown one) is stored. */
export async function readStrategy(store: StrategyStore): Promise<Strategy> {
  const stored = await store.getConfig(STRATEGY_KEY);
  return isStrategy(stored) ? stored : DEFAULT_STRATEGY;
}

export async function writeStrategy(store: StrategyStore, strategy: Strategy): Promise<void> {
  await store.setConfig(STRATEGY_KEY, strategy);
}
