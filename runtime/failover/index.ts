export {
  createRestartStrategy,
  maxRestartDelayMs,
  validateRestartStrategy,
  defaultRestartStrategy,
  RestartStrategyErrorCodes,
} from './restart-strategy.ts';
export type { RestartStrategyConfig, RestartDecision, RestartStrategy } from './restart-strategy.ts';
export { classifyFailure, isFatalFailure } from './failure-class.ts';
export type { FailureClass } from './failure-class.ts';
