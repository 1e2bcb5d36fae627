/**
 * Records/s of ~100-byte records through one cross-thread exchange channel (main thread → worker, runtime/exchange),
 * against the in-process `Channel` (runtime/exec/channel.ts) between two loops of one thread as the baseline. Both
 * consumers read a field of every record; producers push pre-built batches (a pool reused round-robin), so the
 * figures measure the channel, not record construction. The bar from issue 15 is ≥ 2M records/s cross-thread.
 * A third figure compares the channel with the codec alone in one thread (encode, copy, decode, read): above 1,
 * the two threads overlap; the in-process Channel only passes pointers, so its ratio is small by nature.
 *
 * First run (2 vCPU, load average 11–13 from other engineers' tests — read as shapes; 1M records, medians of 3):
 * batches of 1,000 @ 64 KiB: 1.34M/s (0.79× codec alone); @ 1 MiB: 1.08M/s (1.30×); batches of 100 @ 64 KiB: 0.50M/s
 * (0.59×). In-process Channel: 18–59M/s.
 * After chunks were sized to what they hold (message-port-transport.ts; idle machine, 2M records, medians of 3):
 * batches of 1,000 @ 64 KiB: 1.55–1.93M/s; @ 256 KiB (the default between workers): 2.99M/s; @ 1 MiB: 2.37–3.09M/s;
 * batches of 100 @ 64 KiB: 1.58–2.00M/s (two runs). In-process: 68–94M/s.
 *
 *   npx tsx bench/exchange-throughput.ts [records]
 *
 * This file is also the worker it starts (`isMainThread` tells which).
 */
import { isMainThread, MessageChannel, parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';
import { estimateBatchBytes } from '../runtime/exec/batch-size.ts';
import { Channel } from '../runtime/exec/channel.ts';
import { ExchangeEndpoint, MessagePortTransport, RecordDecoder, RecordEncoder } from '../runtime/exchange/index.ts';
import { emitFigure, median } from './support/figure.ts';

const RECORDS = Number(process.argv[2] ?? 2_000_000);
const RUNS = 3;
const POOL = 64;

interface Event {
  id: number;
  user: string;
  ts: number;
  pad: string;
}
const event = (i: number): Event => ({ id: i, user: `user-${i % 10_000}`, ts: 1_700_000_000_000 + i, pad: 'x'.repeat(40) });

interface Setup {
  readonly batch: number;
  readonly capacity: number;
}
const SETUPS: readonly Setup[] = [
  { batch: 1_000, capacity: 64 * 1024 },
  // The default capacity of a channel between workers (DEFAULT_REMOTE_CHANNEL_CAPACITY_BYTES).
  { batch: 1_000, capacity: 256 * 1024 },
  { batch: 1_000, capacity: 1024 * 1024 },
  { batch: 100, capacity: 64 * 1024 },
];

if (isMainThread) {
  for (const setup of SETUPS) {
    const pool = batches(setup.batch);
    const local: number[] = [];
    const remote: number[] = [];
    const codec: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      local.push(await inProcess(pool, setup.capacity));
      remote.push(await crossThread(pool, setup));
      codec.push(codecOnly(pool));
    }
    const baseline = median(local);
    const label = `batches of ${setup.batch}, capacity ${setup.capacity / 1024} KiB`;
    emitFigure({ name: `exchange: in-process Channel, ${label}`, value: baseline, unit: 'records/s', baseline, note: 'the baseline itself' });
    emitFigure({ name: `exchange: main → worker channel, ${label}`, value: median(remote), unit: 'records/s', baseline, note: 'baseline: in-process Channel, same batches and capacity; bar ≥ 2M records/s' });
    emitFigure({ name: `exchange: main → worker channel vs encode + decode in one thread, ${label}`, value: median(remote), unit: 'records/s', baseline: median(codec), note: 'baseline: the record codec alone (encode, copy, decode, read) in one thread: what the exchange splits over two' });
  }
} else {
  consume(workerData as { port: MessagePort; capacity: number });
}

function batches(size: number): Array<{ records: Event[]; bytes: number }> {
  return Array.from({ length: POOL }, (_, b) => {
    const records = Array.from({ length: size }, (_, i) => event(b * size + i));
    return { records, bytes: estimateBatchBytes(records) };
  });
}

/** The codec's work for the same records, in one thread, no transport: the cost the exchange spreads over two threads. */
function codecOnly(pool: Array<{ records: Event[]; bytes: number }>): number {
  const encoder = new RecordEncoder();
  const decoder = new RecordDecoder();
  const size = (pool[0] as { records: Event[] }).records.length;
  let checksum = 0;
  const started = performance.now();
  for (let sent = 0, b = 0; sent < RECORDS; sent += size, b = (b + 1) % POOL) {
    const decoded = decoder.decode<Event>(Uint8Array.from(encoder.encode((pool[b] as { records: Event[] }).records)));
    for (const r of decoded) checksum += r.id;
  }
  if (checksum < 0) throw new Error('unreachable');
  return RECORDS / ((performance.now() - started) / 1000);
}

async function inProcess(pool: Array<{ records: Event[]; bytes: number }>, capacity: number): Promise<number> {
  const channel = new Channel<Event>(capacity);
  let seen = 0;
  let checksum = 0;
  const ended = new Promise<void>((resolve) => {
    let scheduled = false;
    // The consumer runs in its own microtask, as a subtask's loop does after the gate wakes it.
    channel.onPush = () => {
      if (scheduled) return;
      scheduled = true;
      queueMicrotask(() => {
        scheduled = false;
        for (let e = channel.shift(); e !== undefined; e = channel.shift()) {
          if (e.kind === 'end') resolve();
          else if (e.kind === 'records') for (const r of e.records) (checksum += r.id), seen++;
        }
      });
    };
  });
  const started = performance.now();
  await produce(channel, pool);
  await ended;
  if (seen !== RECORDS || checksum < 0) throw new Error(`in-process: ${seen} records seen, ${RECORDS} sent`);
  return RECORDS / ((performance.now() - started) / 1000);
}

async function crossThread(pool: Array<{ records: Event[]; bytes: number }>, setup: Setup): Promise<number> {
  const { port1, port2 } = new MessageChannel();
  const api = import.meta.resolve('tsx/esm/api');
  const self = JSON.stringify(import.meta.url);
  // Node 20 ignores `--import tsx` for a worker's entry module: load this file through tsx's API instead.
  const worker = new Worker(`import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${self}, ${self}))`, {
    eval: true,
    workerData: { port: port2, capacity: setup.capacity },
    transferList: [port2],
  });
  const endpoint = new ExchangeEndpoint(new MessagePortTransport(port1));
  try {
    const out = endpoint.openSender<Event>(0);
    const done = new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // Timed from the receiver's OPEN: worker start-up is not the channel's cost.
    await new Promise<void>((resolve) => {
      const poll = (): void => (out.capacity === undefined ? void setTimeout(poll, 1) : resolve());
      poll();
    });
    const started = performance.now();
    await produce(out, pool);
    const seen = await done;
    if (seen !== RECORDS) throw new Error(`cross-thread: ${seen} records seen, ${RECORDS} sent`);
    return RECORDS / ((performance.now() - started) / 1000);
  } finally {
    endpoint.close();
    await worker.terminate();
  }
}

async function produce(out: { pushRecords(records: readonly Event[], bytes: number): Promise<void> | undefined; pushEnd(): void }, pool: Array<{ records: Event[]; bytes: number }>): Promise<void> {
  const size = (pool[0] as { records: Event[] }).records.length;
  for (let sent = 0, b = 0; sent < RECORDS; sent += size, b = (b + 1) % POOL) {
    const { records, bytes } = pool[b] as { records: Event[]; bytes: number };
    const wait = out.pushRecords(records, bytes);
    if (wait !== undefined) await wait;
  }
  out.pushEnd();
}

function consume({ port, capacity }: { port: MessagePort; capacity: number }): void {
  const endpoint = new ExchangeEndpoint(new MessagePortTransport(port));
  const input = endpoint.openReceiver<Event>(0, capacity);
  let seen = 0;
  let checksum = 0;
  input.onPush = () => {
    for (let e = input.shift(); e !== undefined; e = input.shift()) {
      if (e.kind === 'end') parentPort?.postMessage(checksum < 0 ? -1 : seen);
      else if (e.kind === 'records') for (const r of e.records) (checksum += r.id), seen++;
    }
  };
}
