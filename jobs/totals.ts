/**
 * README's example job: a total per user over a million generated orders, written exactly once to `out/totals/`.
 *
 *   npx tsx runtime/cli/main.ts run jobs/totals.ts -p 4
 *
 * Kill it (Ctrl-C or kill -9) and run it again: it resumes from its last checkpoint, and `out/totals/` holds each
 * update exactly once. Once it has finished, running it again reads nothing new (`--fresh` starts over).
 */
import { defineJob } from '../runtime/api/index.ts';
import { datagen, fileSink } from '../connectors/dev/index.ts';

export default defineJob({ name: 'totals', parallelism: 2, checkpoints: { intervalMs: 1_000 } }, (env) => {
  env
    .source(datagen({ count: 1_000_000, splits: 4, record: (i) => ({ user: `u${i % 1000}`, amount: i % 7 }) }))
    .uid('orders')
    .filter((order) => order.amount > 0)
    .keyBy((order) => order.user)
    .reduce((a, b) => ({ user: a.user, amount: a.amount + b.amount }))
    .uid('totals-per-user')
    .sink(fileSink({ directory: 'out/totals' }));
});
