/**
 * How should records cross a thread boundary? Structured clone (`postMessage` of the record array) against msgpackr
 * into a transferred `ArrayBuffer`, main thread → worker, for batches of ~100-byte records of 100, 1,000 and 10,000.
 * The worker decodes every batch and reads one field of every record (so lazy decoding cannot cheat), and
 * acknowledges each batch; the sender keeps ~512 KiB in flight, so both threads work at once as in a real exchange.
 * The baseline of each size is structured clone; ratio > 1 means msgpackr is faster. The figures chose the codec of
 * runtime/exchange/record-codec.ts (written down there).
 *
 *   npx tsx bench/exchange-codec.ts [records]
 *
 * This file is also the worker it starts (`isMainThread` tells which).
 */
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { accelerated } from '../runtime/serde/msgpackr.ts';
import { emitFigure, median } from './support/figure.ts';

// The exchange's msgpackr instance (native string extractor when it loads): what the channel decodes with.
const { Packr, Unpackr } = accelerated();

const RECORDS = Number(process.argv[2] ?? 1_000_000);
const RUNS = 3;
const IN_FLIGHT_BYTES = 512 * 1024;
const RECORD_BYTES = 100;

type Mode = 'clone' | 'msgpackr-records' | 'msgpackr-shared';
interface Start {
  readonly mode: Mode;
}

const record = (i: number) => ({ id: i, user: `user-${i % 10_000}`, ts: 1_700_000_000_000 + i, pad: 'x'.repeat(40) });

if (isMainThread) {
  const worker = startTsWorker(import.meta.url);
  try {
    for (const batch of [100, 1_000, 10_000]) {
      const runs: Record<Mode, number[]> = { clone: [], 'msgpackr-records': [], 'msgpackr-shared': [] };
      for (let run = 0; run < RUNS; run++) {
        for (const mode of Object.keys(runs) as Mode[]) runs[mode].push(await measure(worker, mode, batch));
      }
      const clone = median(runs.clone);
      emitFigure({ name: `exchange codec: structured clone, batches of ${batch}`, value: clone, unit: 'records/s', baseline: clone, note: 'main → worker, decoded and read' });
      for (const mode of ['msgpackr-records', 'msgpackr-shared'] as const) {
        emitFigure({ name: `exchange codec: ${mode} + transfer, batches of ${batch}`, value: median(runs[mode]), unit: 'records/s', baseline: clone, note: 'baseline: structured clone of the same batches' });
      }
    }
  } finally {
    await worker.terminate();
  }
} else {
  const port = parentPort!;
  let unpackr = new Unpackr({ useRecords: true });
  let mode: Mode = 'clone';
  port.on('message', (message: Start | Uint8Array | Array<{ id: number }>) => {
    if (!Array.isArray(message) && !(message instanceof Uint8Array)) {
      mode = message.mode;
      unpackr = new Unpackr(mode === 'msgpackr-shared' ? { useRecords: true, sequential: true } : { useRecords: true });
      port.postMessage(0);
      return;
    }
    const records = mode === 'clone' ? (message as Array<{ id: number }>) : (unpackr.unpack(message as Uint8Array) as Array<{ id: number }>);
    let sum = 0;
    for (let i = 0; i < records.length; i++) sum += (records[i] as { id: number }).id;
    port.postMessage(sum === -1 ? -1 : records.length);
  });
}

/** Records/s of one run of `mode` at `batch` records per message. */
async function measure(worker: Worker, mode: Mode, batch: number): Promise<number> {
  await request(worker, { mode });
  const packr = new Packr(mode === 'msgpackr-shared' ? { useRecords: true, sequential: true } : { useRecords: true });
  const window = Math.max(2, Math.floor(IN_FLIGHT_BYTES / (batch * RECORD_BYTES)));
  const started = performance.now();
  let sent = 0;
  let acked = 0;
  await new Promise<void>((resolve) => {
    const send = (): void => {
      while (sent < RECORDS && (sent - acked) / batch < window) {
        const records = Array.from({ length: Math.min(batch, RECORDS - sent) }, (_, j) => record(sent + j));
        if (mode === 'clone') {
          worker.postMessage(records);
        } else {
          const packed = packr.pack(records);
          // msgpackr packs into a shared buffer: copy into an owned one, as a transport must before transferring.
          const owned = new Uint8Array(packed.length);
          owned.set(packed);
          worker.postMessage(owned, [owned.buffer]);
        }
        sent += records.length;
      }
    };
    const onAck = (count: number): void => {
      acked += count;
      if (acked >= RECORDS) {
        worker.off('message', onAck);
        resolve();
      } else {
        send();
      }
    };
    worker.on('message', onAck);
    send();
  });
  return RECORDS / ((performance.now() - started) / 1000);
}

/**
 * Node 20 does not apply `--import tsx` to a worker's entry module (ERR_UNKNOWN_FILE_EXTENSION), so the worker starts
 * from a one-line script that loads the .ts file through tsx's API.
 */
function startTsWorker(url: string): Worker {
  const api = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(url)}, ${JSON.stringify(url)}))`, { eval: true });
}

function request(worker: Worker, message: Start): Promise<void> {
  return new Promise((resolve) => {
    worker.once('message', () => resolve());
    worker.postMessage(message);
  });
}
