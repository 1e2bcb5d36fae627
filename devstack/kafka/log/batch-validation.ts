import { ErrorCode } from '../protocol/error-codes.ts';
import { crc32c } from '../protocol/crc32c.ts';
import { ATTR_CONTROL, CRC_START, recordTimestampsAndKeys, type BatchHeader } from '../protocol/record-batch.ts';
import type { TimestampPolicy } from './topic-configs.ts';

/** Attribute bit 3: the batch's timestamps are the broker's append time. */
const ATTR_LOG_APPEND_TIME = 0x08;

/** Why a produced batch is refused: the error code and Kafka's message. */
export interface BatchRefusal {
  readonly errorCode: number;
  readonly message: string;
}

/** What a partition checks a produced batch against: its topic's settings. */
export interface BatchRules {
  readonly topicPartition: string;
  /** A compacted topic refuses records without a key. */
  readonly compacted: boolean;
  readonly timestamps: TimestampPolicy;
}

/**
 * Kafka 2.1's `LogValidator` checks of one produced batch, before anything is appended: clients may not write control
 * batches; a compacted topic takes no record without a key; with CreateTime, each record's timestamp must be within
 * `message.timestamp.difference.max.ms` of the broker's clock (INVALID_TIMESTAMP). Kafka 2.1 answers the first two
 * with CORRUPT_MESSAGE (its InvalidRecordException is a CorruptRecordException; INVALID_RECORD came in 2.5). Records
 * are decoded only when a check needs them (gzip is read; snappy, lz4 and zstd batches pass unread).
 */
export function refusalOf(buf: Buffer, header: BatchHeader, rules: BatchRules, now: number): BatchRefusal | undefined {
  if ((header.attributes & ATTR_CONTROL) !== 0) return { errorCode: ErrorCode.CORRUPT_MESSAGE, message: 'clients may not write control batches' };
  const checkTimestamps = !rules.timestamps.logAppendTime && rules.timestamps.maxDifferenceMs < Number.MAX_SAFE_INTEGER;
  if (!rules.compacted && !checkTimestamps) return undefined;
  for (const record of recordTimestampsAndKeys(buf)) {
    if (rules.compacted && record.key === null) {
      return { errorCode: ErrorCode.CORRUPT_MESSAGE, message: `Compacted topic cannot accept message without key in topic partition ${rules.topicPartition}.` };
    }
    if (checkTimestamps && record.timestamp >= 0 && Math.abs(record.timestamp - now) > rules.timestamps.maxDifferenceMs) {
      const { maxDifferenceMs } = rules.timestamps;
      const message = `Timestamp ${record.timestamp} of message with offset ${record.offsetDelta} is out of range. The timestamp should be within [${now - maxDifferenceMs}, ${now + maxDifferenceMs}]`;
      return { errorCode: ErrorCode.INVALID_TIMESTAMP, message };
    }
  }
  return undefined;
}

/**
 * Stamps a batch with the broker's append time, as Kafka does for a LogAppendTime topic: the timestamp-type bit and
 * the max timestamp change (readers take the max timestamp as every record's), and with them the CRC.
 */
export function stampLogAppendTime(buf: Buffer, now: number): void {
  buf.writeInt16BE(buf.readInt16BE(21) | ATTR_LOG_APPEND_TIME, 21);
  buf.writeBigInt64BE(BigInt(now), 35);
  buf.writeUInt32BE(crc32c(buf, CRC_START, buf.length), 17);
}
