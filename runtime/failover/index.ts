export {
  createRestartStrategy,
  maxRestartDelayMs,
  validateRestartStrategy,
  defaultRestartStrategy,
  RestartStrategyErrorCodes,
} from './restart-strategy.ts';
export type { RestartStrategyConfig, RestartDecision, RestartStrategy } from './restart-strategy.ts';
