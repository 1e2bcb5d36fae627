import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Whether the object `ref` points at is gone after a full garbage collection: a test that something lets go of
 * memory (a closed state backend, its cache). Turns on `--expose-gc` for this process the first time.
 */
export async function collectedAfterGc(ref: WeakRef<object>): Promise<boolean> {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  await new Promise((resolve) => setImmediate(resolve)); // WeakRefs read in this turn are kept until it ends
  gc();
  return ref.deref() === undefined;
}
