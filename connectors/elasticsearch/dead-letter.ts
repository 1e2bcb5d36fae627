import { createHash } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ConnectorEndpoint, SinkWriter, SinkWriterContext } from '../../runtime/api/index.ts';
import { SluiceError } from '../../runtime/errors/index.ts';
import type { BulkItem } from './bulk-item.ts';
import { executeBulk, type BulkRequestContext, type RejectedItem } from './bulk-request.ts';
import { ES_SINK_ERRORS } from './errors.ts';
import type { DeadLetterOptions, ElasticsearchAction } from './options.ts';

/**
 * Where rejected documents go outside the job: a dead-letter sink's endpoints, or the dead-letter file; none for an
 * index, which is on the sink's own nodes.
 */
export function deadLetterEndpoints<T>(deadLetter: DeadLetterOptions<T> | undefined): readonly ConnectorEndpoint[] {
  if (deadLetter === undefined || 'index' in deadLetter) return [];
  if ('sink' in deadLetter) return deadLetter.sink.endpoints ?? [];
  return [{ system: 'files', path: deadLetter.file }];
}

/**
 * A document Elasticsearch will never accept as sent, with why. This is what the dead-letter destination receives
 * (a document of the dead-letter index, a line of the dead-letter file, a record of the dead-letter sink).
 */
export interface DeadLetter<T = unknown> {
  /** Target index and document id of the failed action. */
  readonly index: string;
  /** The document id of the failed action. */
  readonly id: string;
  /** The action that failed (`index`, `create`, `upsert` or `delete`). */
  readonly action: ElasticsearchAction;
  /** HTTP status of the item, e.g. 400. */
  readonly status: number;
  /** Elasticsearch's error type, e.g. `document_parsing_exception`. */
  readonly errorType: string;
  /** Elasticsearch's reason, with its cause when it has one. */
  readonly reason: string;
  /** The record the action came from (for actions merged within one bulk: the last one). */
  readonly record: T;
  /** The document as sent (absent for deletes). */
  readonly document: unknown;
  /** The job that wrote it. */
  readonly job: string;
  /** The sink subtask that wrote it. */
  readonly subtask: number;
  /** ISO 8601 time the sink gave up on the document. */
  readonly failedAt: string;
}

/** Where dead letters go; written before the bulk that produced them counts as done, so a checkpoint covers them. */
export interface DeadLetterDestination<T> {
  start(): Promise<void>;
  write(letters: readonly DeadLetter<T>[]): Promise<void>;
  preCommit(checkpointId: number): Promise<unknown>;
  commit(checkpointId: number): Promise<void>;
  finish(): Promise<void>;
  close(outcome: 'finished' | 'failed' | 'cancelled'): Promise<void>;
}

/** Builds the dead letter of a rejected item. */
export function toDeadLetter<T>(rejected: RejectedItem<T>, context: SinkWriterContext, now: number): DeadLetter<T> {
  const { item } = rejected;
  return {
    index: item.index,
    id: item.id,
    action: item.action,
    status: rejected.status,
    errorType: rejected.type,
    reason: rejected.reason,
    record: item.record as T, // kept whenever a destination is configured
    document: item.source === undefined ? undefined : (JSON.parse(item.source) as unknown),
    job: context.job,
    subtask: context.subtask,
    failedAt: new Date(now).toISOString(),
  };
}

/** Opens the configured destination for one writer. */
export function openDeadLetters<T>(
  options: DeadLetterOptions<T>,
  context: SinkWriterContext,
  bulk: BulkRequestContext,
): DeadLetterDestination<T> {
  if ('index' in options) return new DeadLetterIndex<T>(options.index, bulk);
  if ('file' in options) return new DeadLetterFile<T>(resolve(options.file));
  return new DeadLetterSink<T>(options.sink.createWriter({ ...context, restoredState: restoredInner(context.restoredState) }));
}

/** The dead-letter sink's own state is stored inside the Elasticsearch writer's checkpoint state. */
export interface WriterState {
  readonly deadLetter?: unknown;
}

function restoredInner(restored: readonly unknown[] | undefined): unknown[] | undefined {
  if (restored === undefined) return undefined;
  return restored.flatMap((s) => (s !== null && typeof s === 'object' && 'deadLetter' in s ? [(s as WriterState).deadLetter] : []));
}

/**
 * Mapping of the dead-letter index: the failed record and document are stored but not indexed (`enabled: false`),
 * because they are exactly the kind of document that conflicts with mappings.
 */
export const DEAD_LETTER_MAPPINGS = {
  properties: {
    index: { type: 'keyword' },
    id: { type: 'keyword' },
    action: { type: 'keyword' },
    status: { type: 'integer' },
    errorType: { type: 'keyword' },
    reason: { type: 'text' },
    record: { type: 'object', enabled: false },
    document: { type: 'object', enabled: false },
    job: { type: 'keyword' },
    subtask: { type: 'integer' },
    failedAt: { type: 'date' },
  },
} as const;

/**
 * Dead letters as documents of an index on the same node. Ids are a hash of target index, id and document, so a
 * replay overwrites the dead letter it wrote before instead of adding a second one.
 */
class DeadLetterIndex<T> implements DeadLetterDestination<T> {
  readonly #index: string;
  readonly #bulk: BulkRequestContext;

  constructor(index: string, bulk: BulkRequestContext) {
    this.#index = index;
    this.#bulk = bulk;
  }

  async start(): Promise<void> {}

  async write(letters: readonly DeadLetter<T>[]): Promise<void> {
    const items: BulkItem<DeadLetter<T>>[] = letters.map((letter) => {
      const source = JSON.stringify(letter);
      const id = createHash('sha1').update(`${letter.index}\n${letter.id}\n${JSON.stringify(letter.document)}`).digest('hex');
      return { index: this.#index, id, action: 'index', source, record: letter, bytes: 0 };
    });
    const rejected = await executeBulk(items, this.#bulk);
    if (rejected.length > 0) {
      const r = rejected[0] as RejectedItem<DeadLetter<T>>;
      const letter = r.item.record as DeadLetter<T>;
      throw new SluiceError(
        ES_SINK_ERRORS.deadLetterFailed,
        `the dead-letter index "${this.#index}" refused ${rejected.length} dead letter(s), e.g. for index "${letter.index}" id "${letter.id}": ${r.type}: ${r.reason}; check that index's mapping`,
        { retriable: false },
      );
    }
  }

  async preCommit(): Promise<undefined> {
    return undefined;
  }

  async commit(): Promise<void> {}
  async finish(): Promise<void> {}
  async close(): Promise<void> {}
}

/**
 * Appends to one file are queued per path within a thread. Subtasks on other worker threads have their own queue; their
 * lines stay whole because each append is one write() to a file opened with O_APPEND (3 threads × 200 appends of 150 KB
 * to one file: 30,000 lines, none torn).
 */
const fileQueues = new Map<string, Promise<void>>();

/** Dead letters as NDJSON lines, appended and fsynced before the bulk that rejected them counts as done. */
class DeadLetterFile<T> implements DeadLetterDestination<T> {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  async start(): Promise<void> {
    await mkdir(dirname(this.#path), { recursive: true });
  }

  async write(letters: readonly DeadLetter<T>[]): Promise<void> {
    let text = '';
    for (const letter of letters) text += `${JSON.stringify(letter)}\n`;
    const previous = fileQueues.get(this.#path) ?? Promise.resolve();
    const appended = previous.then(() => this.#append(text));
    const settled = appended.catch(() => undefined);
    fileQueues.set(this.#path, settled);
    void settled.then(() => {
      if (fileQueues.get(this.#path) === settled) fileQueues.delete(this.#path);
    });
    try {
      await appended;
    } catch (err) {
      throw new SluiceError(ES_SINK_ERRORS.deadLetterFailed, `could not append dead letters to ${this.#path}: ${(err as Error).message}`, { cause: err, retriable: true });
    }
  }

  async #append(text: string): Promise<void> {
    const file = await open(this.#path, 'a');
    try {
      await file.write(text);
      await file.sync();
    } finally {
      await file.close();
    }
  }

  async preCommit(): Promise<undefined> {
    return undefined;
  }

  async commit(): Promise<void> {}
  async finish(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Dead letters handed to any Sink, which follows the Elasticsearch writer's checkpoints (its state rides in ours). */
class DeadLetterSink<T> implements DeadLetterDestination<T> {
  readonly #writer: SinkWriter<DeadLetter<T>>;
  /** Writes from different lanes are serialised: a SinkWriter is not re-entrant. */
  #queue: Promise<void> = Promise.resolve();

  constructor(writer: SinkWriter<DeadLetter<T>>) {
    this.#writer = writer;
  }

  start(): Promise<void> {
    return this.#writer.start();
  }

  write(letters: readonly DeadLetter<T>[]): Promise<void> {
    const next = this.#queue.then(() => this.#writer.write(letters));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async preCommit(checkpointId: number): Promise<unknown> {
    await this.#queue;
    return this.#writer.preCommit(checkpointId);
  }

  commit(checkpointId: number): Promise<void> {
    return this.#writer.commit(checkpointId);
  }

  async finish(): Promise<void> {
    await this.#queue;
    await this.#writer.finish();
  }

  close(outcome: 'finished' | 'failed' | 'cancelled'): Promise<void> {
    return this.#writer.close(outcome);
  }
}
