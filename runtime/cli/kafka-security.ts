import type { SASLOptions } from 'kafkajs';
import { UsageError } from './usage-error.ts';

/** How a cluster member's Kafka client reaches secured brokers: TLS and SASL, as kafkajs takes them. */
export interface KafkaSecurity {
  readonly ssl?: boolean;
  readonly sasl?: SASLOptions;
}

/** The flags of {@link kafkaSecurity}, for a command's usage text (indented to `column`). */
export function kafkaSecurityUsage(column: number): string {
  const pad = (flag: string): string => `      ${flag.padEnd(column - 6)}`;
  return [
    `${pad('--kafka-ssl')}TLS to the brokers, verified against the system's CAs`,
    `${pad('--kafka-sasl <mechanism>')}authenticate with SASL: plain, scram-sha-256 or scram-sha-512`,
    `${pad('--kafka-user <name>')}the SASL user (default: $SLUICE_KAFKA_USER); its password is read from`,
    `${' '.repeat(column)}$SLUICE_KAFKA_PASSWORD, never from a flag (other users see flags in ps)`,
  ].join('\n');
}

const MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/**
 * The Kafka security a command's flags ask for: `--kafka-ssl`, `--kafka-sasl <mechanism>` with `--kafka-user` (or
 * $SLUICE_KAFKA_USER) and $SLUICE_KAFKA_PASSWORD. Each missing or contradictory piece is a {@link UsageError} saying
 * what to add.
 *
 * @example
 * ```ts
 * // sluice start --cluster prod --brokers b1:9093 --kafka-ssl --kafka-sasl scram-sha-512 --kafka-user sluice
 * const security = kafkaSecurity(values, process.env, START_USAGE); // { ssl: true, sasl: { mechanism: 'scram-sha-512', … } }
 * ```
 */
export function kafkaSecurity(
  values: { readonly 'kafka-ssl'?: boolean | undefined; readonly 'kafka-sasl'?: string | undefined; readonly 'kafka-user'?: string | undefined },
  env: NodeJS.ProcessEnv,
  usage: string,
): KafkaSecurity {
  const ssl = values['kafka-ssl'] === true ? { ssl: true } : {};
  const mechanism = values['kafka-sasl'];
  if (mechanism === undefined) {
    if (values['kafka-user'] !== undefined) throw new UsageError('--kafka-user needs --kafka-sasl <mechanism> (plain, scram-sha-256 or scram-sha-512)', usage);
    return ssl;
  }
  const chosen = MECHANISMS.find((m) => m === mechanism.toLowerCase());
  if (chosen === undefined) throw new UsageError(`--kafka-sasl expects ${MECHANISMS.join(', ')}, got "${mechanism}"`, usage);
  const username = values['kafka-user'] ?? env['SLUICE_KAFKA_USER'];
  if (username === undefined || username === '') throw new UsageError(`--kafka-sasl ${chosen} needs a user: --kafka-user <name> or $SLUICE_KAFKA_USER`, usage);
  const password = kafkaPassword(env, `--kafka-sasl ${chosen} needs the password of "${username}"`, usage);
  return { ...ssl, sasl: { mechanism: chosen, username, password } as SASLOptions };
}

/**
 * The SASL password from $SLUICE_KAFKA_PASSWORD, the only place it is taken from (other users see flags in ps); a
 * {@link UsageError} starting with `need` when it is unset or empty.
 */
export function kafkaPassword(env: NodeJS.ProcessEnv, need: string, usage: string): string {
  const password = env['SLUICE_KAFKA_PASSWORD'];
  if (password === undefined || password === '') throw new UsageError(`${need} in $SLUICE_KAFKA_PASSWORD (it is never taken from a flag)`, usage);
  return password;
}
