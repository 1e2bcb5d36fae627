import { logLevel as KafkaLogLevel, type logCreator } from 'kafkajs';
import type { Logger } from '../logging/index.ts';

/**
 * Routes kafkajs's own logging into the reader's pino logger. kafkajs logs every failed connection attempt and
 * every retry at ERROR, which would flood the log while a broker is down; the failure that matters is reported once
 * by the reader (as a SluiceError that fails the attempt). So kafkajs levels are shifted one step down
 * (ERROR → warn, WARN → info, INFO → debug, DEBUG → trace), and a message that repeats within `repeatWindowMs` is
 * logged at debug after its first appearance.
 */
/**
 * kafkajs warnings about settings Sluice chose on purpose, logged at debug: they would alarm a user about something
 * that is not theirs to fix. The source's offset committer is an idempotent producer with few retries: it commits
 * consumer-group offsets for lag tooling only (no records, so no delivery guarantee rests on it), and a commit that
 * cannot get through must not hold the source up; the next checkpoint commits newer offsets anyway.
 */
const OWN_SETTINGS_WARNINGS = ['Limiting retries for the idempotent producer may invalidate EoS guarantees'];

export function kafkajsLogCreator(logger: Logger, repeatWindowMs = 60_000): logCreator {
  const lastSeen = new Map<string, number>();
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _timestamp, logger: _name, ...extra } = log as { message: string; timestamp?: string; logger?: string; [k: string]: unknown };
      let target = shiftedLevel(level);
      if (OWN_SETTINGS_WARNINGS.includes(message)) target = 'debug';
      if (target === 'warn' || target === 'info') {
        const key = `${namespace}|${message}`;
        const now = Date.now();
        const seen = lastSeen.get(key);
        if (seen !== undefined && now - seen < repeatWindowMs) target = 'debug';
        else {
          if (lastSeen.size > 1000) lastSeen.clear();
          lastSeen.set(key, now);
        }
      }
      if (!logger.isLevelEnabled(target)) return;
      logger[target]({ kafkajs: namespace, ...extra }, `kafkajs: ${message}`);
    };
}

/** The kafkajs log level to ask for: kafkajs builds every entry it is asked for, so ask only for what pino keeps. */
export function kafkajsLevelFor(logger: Logger): KafkaLogLevel {
  if (logger.isLevelEnabled('trace')) return KafkaLogLevel.DEBUG;
  if (logger.isLevelEnabled('debug')) return KafkaLogLevel.INFO;
  return KafkaLogLevel.WARN;
}

function shiftedLevel(level: KafkaLogLevel): 'warn' | 'info' | 'debug' | 'trace' {
  switch (level) {
    case KafkaLogLevel.ERROR:
      return 'warn';
    case KafkaLogLevel.WARN:
      return 'info';
    case KafkaLogLevel.INFO:
      return 'debug';
    default:
      return 'trace';
  }
}
