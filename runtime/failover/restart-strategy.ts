import { SluiceError } from '../errors/index.ts';

/**
 * How a job restarts after a failed attempt (Flink's strategies, same semantics):
 * - `none`: never restart; the first failure fails the job.
 * - `fixed-delay`: restart up to `attempts` times in total, waiting `delayMs` before each.
 * - `exponential-delay`: wait `initialDelayMs`, then ×`multiplier` per consecutive failure up to `maxDelayMs`, each
 *   delay ± `jitter` (a fraction); never gives up. Once an attempt has run `resetAfterMs` without failing, the next
 *   failure starts again from `initialDelayMs`.
 * - `failure-rate`: restart after `delayMs` unless more than `maxFailures` failures fall within the last
 *   `intervalMs` (sliding window, both ends inclusive).
 *
 * @example
 * ```ts
 * const restart: RestartStrategyConfig = { type: 'fixed-delay', attempts: 3, delayMs: 5_000 };
 * ```
 */
export type RestartStrategyConfig =
  | { type: 'none' }
  | { type: 'fixed-delay'; attempts: number; delayMs: number }
  | {
      type: 'exponential-delay';
      initialDelayMs: number;
      maxDelayMs: number;
      multiplier: number;
      /** 0..1: each delay is drawn uniformly from `delay × [1 - jitter, 1 + jitter]` (capped at `maxDelayMs`). */
      jitter: number;
      resetAfterMs: number;
    }
  | { type: 'failure-rate'; maxFailures: number; intervalMs: number; delayMs: number };

/** What to do after a failure: restart after `delayMs` (the `attempt`-th restart counted by the strategy), or stop. */
export type RestartDecision = { restart: true; delayMs: number; attempt: number } | { restart: false; reason: string };

/**
 * A stateful decision maker for one job. The executor calls {@link RestartStrategy.onFailure} when an attempt fails
 * and, if told to restart, {@link RestartStrategy.onRestarted} once the new attempt runs.
 */
export interface RestartStrategy {
  onFailure(now: number): RestartDecision;
  /** The attempt started running at `now`. */
  onRestarted(now: number): void;
  /** One line for logs and `sluice status`, e.g. `fixed-delay: up to 3 restarts, 5000 ms apart`. */
  describe(): string;
}

/** Error codes of this module. */
export const RestartStrategyErrorCodes = {
  invalid: 'SLUICE_INVALID_RESTART_STRATEGY',
} as const;

/** Exponential delay: 1 s, doubling up to 60 s, ±10 % jitter, back to 1 s after 10 minutes of running. */
export const defaultRestartStrategy: RestartStrategyConfig = Object.freeze({
  type: 'exponential-delay',
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
  multiplier: 2,
  jitter: 0.1,
  resetAfterMs: 600_000,
});

/**
 * Longest time `config` may wait before a restart: what a transactional sink's timeout must also cover.
 *
 * @example
 * ```ts
 * maxRestartDelayMs({ type: 'fixed-delay', attempts: 3, delayMs: 5_000 }); // 5000
 * ```
 */
export function maxRestartDelayMs(config: RestartStrategyConfig): number {
  switch (config.type) {
    case 'none':
      return 0;
    case 'fixed-delay':
    case 'failure-rate':
      return config.delayMs;
    case 'exponential-delay':
      return config.maxDelayMs;
  }
}

/**
 * Builds the strategy for `config` (validated first). `random` (default `Math.random`) draws the jitter; tests
 * inject it.
 *
 * @example
 * ```ts
 * const strategy = createRestartStrategy(job.restart ?? defaultRestartStrategy);
 * const decision = strategy.onFailure(clock.now());
 * if (decision.restart) await clock.sleep(decision.delayMs);
 * ```
 */
export function createRestartStrategy(
  config: RestartStrategyConfig,
  options: { random?: () => number } = {},
): RestartStrategy {
  const valid = validateRestartStrategy(config);
  switch (valid.type) {
    case 'none':
      return new NoRestart();
    case 'fixed-delay':
      return new FixedDelay(valid.attempts, valid.delayMs);
    case 'exponential-delay':
      return new ExponentialDelay(valid, options.random ?? Math.random);
    case 'failure-rate':
      return new FailureRate(valid.maxFailures, valid.intervalMs, valid.delayMs);
  }
}

class NoRestart implements RestartStrategy {
  onFailure(): RestartDecision {
    return { restart: false, reason: "the restart strategy is 'none'" };
  }
  onRestarted(): void {}
  describe(): string {
    return 'none: no restarts';
  }
}

class FixedDelay implements RestartStrategy {
  readonly #attempts: number;
  readonly #delayMs: number;
  #restarts = 0;

  constructor(attempts: number, delayMs: number) {
    this.#attempts = attempts;
    this.#delayMs = delayMs;
  }

  onFailure(): RestartDecision {
    if (this.#restarts >= this.#attempts) {
      return { restart: false, reason: `fixed-delay restart strategy used all ${this.#attempts} restart attempts` };
    }
    this.#restarts++;
    return { restart: true, delayMs: this.#delayMs, attempt: this.#restarts };
  }

  onRestarted(): void {}

  describe(): string {
    return `fixed-delay: up to ${this.#attempts} restarts, ${this.#delayMs} ms apart`;
  }
}

type ExponentialConfig = Extract<RestartStrategyConfig, { type: 'exponential-delay' }>;

class ExponentialDelay implements RestartStrategy {
  readonly #config: ExponentialConfig;
  readonly #random: () => number;
  /** Consecutive failures since the last reset. */
  #failures = 0;
  #runningSince: number | undefined;

  constructor(config: ExponentialConfig, random: () => number) {
    this.#config = config;
    this.#random = random;
  }

  onFailure(now: number): RestartDecision {
    const c = this.#config;
    // A healthy stretch of `resetAfterMs` forgives earlier failures. Without an onRestarted() call (the first
    // attempt), the attempt counts as running from the start, so the first failure always starts at initialDelayMs.
    if (this.#runningSince !== undefined && now - this.#runningSince >= c.resetAfterMs) this.#failures = 0;
    this.#runningSince = undefined;
    const base = Math.min(c.maxDelayMs, c.initialDelayMs * c.multiplier ** this.#failures);
    this.#failures++;
    const jittered = base * (1 + c.jitter * (2 * this.#random() - 1));
    const delayMs = Math.max(0, Math.min(c.maxDelayMs, Math.round(jittered)));
    return { restart: true, delayMs, attempt: this.#failures };
  }

  onRestarted(now: number): void {
    this.#runningSince = now;
  }

  describe(): string {
    const c = this.#config;
    return (
      `exponential-delay: ${c.initialDelayMs} ms ×${c.multiplier} up to ${c.maxDelayMs} ms, ` +
      `±${Math.round(c.jitter * 100)} % jitter, reset after ${c.resetAfterMs} ms without failure`
    );
  }
}

class FailureRate implements RestartStrategy {
  readonly #maxFailures: number;
  readonly #intervalMs: number;
  readonly #delayMs: number;
  /** Failure times inside the window, oldest first; never longer than maxFailures + 1. */
  #failures: number[] = [];
  #restarts = 0;
  #gaveUp = false;

  constructor(maxFailures: number, intervalMs: number, delayMs: number) {
    this.#maxFailures = maxFailures;
    this.#intervalMs = intervalMs;
    this.#delayMs = delayMs;
  }

  onFailure(now: number): RestartDecision {
    if (this.#gaveUp) return { restart: false, reason: this.#reason() };
    this.#failures.push(now);
    while (this.#failures.length > 0 && now - this.#failures[0]! > this.#intervalMs) this.#failures.shift();
    if (this.#failures.length > this.#maxFailures) {
      this.#gaveUp = true;
      return { restart: false, reason: this.#reason() };
    }
    this.#restarts++;
    return { restart: true, delayMs: this.#delayMs, attempt: this.#restarts };
  }

  onRestarted(): void {}

  describe(): string {
    return `failure-rate: at most ${this.#maxFailures} failures per ${this.#intervalMs} ms, ${this.#delayMs} ms between restarts`;
  }

  #reason(): string {
    return `failure-rate restart strategy: more than ${this.#maxFailures} failures within ${this.#intervalMs} ms`;
  }
}

const FIELDS = {
  none: {},
  'fixed-delay': { attempts: 'int>=0', delayMs: '>=0' },
  'exponential-delay': {
    initialDelayMs: '>0',
    maxDelayMs: '>0',
    multiplier: '>=1',
    jitter: '0..1',
    resetAfterMs: '>0',
  },
  'failure-rate': { maxFailures: 'int>=0', intervalMs: '>0', delayMs: '>=0' },
} as const satisfies Record<RestartStrategyConfig['type'], Record<string, Rule>>;

type Rule = 'int>=0' | '>=0' | '>0' | '>=1' | '0..1';

const RULE_TEXT: Record<Rule, string> = {
  'int>=0': 'an integer >= 0',
  '>=0': 'a finite number >= 0',
  '>0': 'a finite number > 0',
  '>=1': 'a finite number >= 1',
  '0..1': 'a number from 0 to 1',
};

/**
 * Checks a restart strategy from job options or the REST API; returns it typed, or throws
 * `SLUICE_INVALID_RESTART_STRATEGY` naming the option and the allowed values. Unknown fields are errors too
 * (a typo like `attemps` must not silently fall back to a default).
 */
export function validateRestartStrategy(config: unknown): RestartStrategyConfig {
  const types = Object.keys(FIELDS) as Array<keyof typeof FIELDS>;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw invalid(`restart strategy must be an object like { type: 'fixed-delay', attempts: 3, delayMs: 1000 }; got ${show(config)}`);
  }
  const record = config as Record<string, unknown>;
  const type = record['type'];
  if (typeof type !== 'string' || !types.includes(type as keyof typeof FIELDS)) {
    throw invalid(`restart strategy type ${show(type)} is unknown; use one of ${types.map((t) => `'${t}'`).join(', ')}`);
  }
  const fields: Record<string, Rule> = FIELDS[type as keyof typeof FIELDS];
  for (const key of Object.keys(record)) {
    if (key !== 'type' && !(key in fields)) {
      const allowed = Object.keys(fields);
      throw invalid(
        `restart strategy '${type}' has no option '${key}'; ` +
          (allowed.length === 0 ? 'it takes no options' : `its options are ${allowed.join(', ')}`),
      );
    }
  }
  for (const [key, rule] of Object.entries(fields)) {
    const value = record[key];
    if (!satisfies(value, rule)) {
      throw invalid(`restart strategy '${type}' option ${key} must be ${RULE_TEXT[rule]}; got ${show(value)}`);
    }
  }
  if (type === 'exponential-delay' && (record['maxDelayMs'] as number) < (record['initialDelayMs'] as number)) {
    throw invalid(
      `restart strategy 'exponential-delay' option maxDelayMs (${String(record['maxDelayMs'])}) must be >= initialDelayMs ` +
        `(${String(record['initialDelayMs'])})`,
    );
  }
  return { ...record } as RestartStrategyConfig;
}

function satisfies(value: unknown, rule: Rule): boolean {
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  switch (rule) {
    case 'int>=0':
      return Number.isInteger(value) && value >= 0;
    case '>=0':
      return value >= 0;
    case '>0':
      return value > 0;
    case '>=1':
      return value >= 1;
    case '0..1':
      return value >= 0 && value <= 1;
  }
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function invalid(message: string): SluiceError {
  return new SluiceError(RestartStrategyErrorCodes.invalid, message, { retriable: false });
}
