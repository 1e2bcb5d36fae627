import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from '../../../runtime/errors/index.ts';
import type { OffsetsSnapshot } from '../groups/group-coordinator.ts';
import type { LogSink } from '../log/partition-log.ts';
import type { TransactionCoordinatorState } from '../txn/transaction-coordinator.ts';
import { SegmentFile, loadSegment, type LoadedBatch } from './segment-file.ts';

/**
 * The broker's data directory:
 *
 *   <dataDir>/broker.json                  metadata, rewritten atomically (write broker.json.tmp, fsync, rename)
 *   <dataDir>/logs/<topic>/<partition>.log record batches (see segment-file.ts)
 *
 * broker.json (version 1):
 *   { "version": 1,
 *     "clusterId": string,
 *     "topics": { <name>: { "partitions": number, "configs": { <key>: <value> },
 *                           "logStartOffsets"?: [number per partition] } },   (present once DeleteRecords moved one)
 *     "transactions": { "nextProducerId": number, "transactions": [TxnSnapshot...] },
 *     "offsets": { <groupId>: { <topic>: { <partition>: { "offset": number, "metadata": string|null } } } } }
 *
 * Producer ids, epochs and sequence numbers per partition, open transactions and aborted ranges are not stored
 * here: they are rebuilt from the batch headers in the logs, as Kafka rebuilds its producer state.
 * Metadata writes are coalesced (a few ms) and forced on close.
 */
export interface BrokerMetadataFile {
  version: 1;
  clusterId: string;
  topics: Record<string, { partitions: number; configs: Record<string, string>; logStartOffsets?: number[] }>;
  transactions: TransactionCoordinatorState;
  offsets: OffsetsSnapshot;
}

const METADATA = 'broker.json';

export class DataDir {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
    try {
      mkdirSync(join(path, 'logs'), { recursive: true });
    } catch (err) {
      throw new SluiceError('SLUICE_DEVSTACK_KAFKA_DATA_DIR', `cannot create Kafka broker data directory "${path}"; check the path and its permissions`, { cause: err });
    }
  }

  readMetadata(): BrokerMetadataFile | undefined {
    const file = join(this.path, METADATA);
    if (!existsSync(file)) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new SluiceError(
        'SLUICE_DEVSTACK_KAFKA_DATA_CORRUPT',
        `Kafka broker metadata "${file}" is not valid JSON; delete the data directory to start empty`,
        { cause: err },
      );
    }
    const meta = parsed as Partial<BrokerMetadataFile>;
    if (meta.version !== 1) {
      throw new SluiceError(
        'SLUICE_DEVSTACK_KAFKA_DATA_CORRUPT',
        `Kafka broker metadata "${file}" has version ${String(meta.version)}, expected 1; delete the data directory to start empty`,
      );
    }
    return meta as BrokerMetadataFile;
  }

  writeMetadata(meta: BrokerMetadataFile): void {
    const file = join(this.path, METADATA);
    const tmp = `${file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify(meta));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  }

  #logPath(topic: string, partition: number): string {
    return join(this.path, 'logs', topic, `${partition}.log`);
  }

  openPartition(topic: string, partition: number): LogSink {
    return new SegmentFile(this.#logPath(topic, partition));
  }

  loadPartition(topic: string, partition: number): LoadedBatch[] {
    return loadSegment(this.#logPath(topic, partition));
  }

  removeTopic(topic: string): void {
    rmSync(join(this.path, 'logs', topic), { recursive: true, force: true });
  }
}
