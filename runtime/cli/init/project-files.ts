/**
 * The files `sluice init` writes: a project whose job and test import Sluice as a package (`sluice`, `sluice/dev`,
 * `sluice/testing`), with the versions of Sluice and of its TypeScript tooling that the running Sluice was built with.
 */

/** Versions the generated package.json asks for. */
export interface ProjectVersions {
  /** A range of sluice, e.g. `^0.1.0`. */
  readonly sluice: string;
  readonly tsx: string;
  readonly typescript: string;
  readonly typesNode: string;
}

/** File path (relative to the project) → content. */
export function projectFiles(name: string, versions: ProjectVersions): Record<string, string> {
  return {
    'package.json': `${JSON.stringify(
      {
        name,
        version: '0.1.0',
        private: true,
        type: 'module',
        scripts: {
          start: 'sluice run jobs/example.ts',
          verify: 'sluice verify jobs/example.ts',
          test: 'tsc --noEmit && node --import tsx --test test/example.test.ts',
        },
        dependencies: { sluice: versions.sluice },
        devDependencies: { '@types/node': versions.typesNode, tsx: versions.tsx, typescript: versions.typescript },
      },
      null,
      2,
    )}\n`,
    'tsconfig.json': `${JSON.stringify(
      {
        // Jobs run from source (sluice run, tsx), so nothing is emitted and imports may name .ts files.
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          types: ['node'],
          strict: true,
          noEmit: true,
          allowImportingTsExtensions: true,
          verbatimModuleSyntax: true,
          skipLibCheck: true,
        },
        include: ['jobs', 'test'],
      },
      null,
      2,
    )}\n`,
    '.gitignore': 'node_modules/\n.sluice/\nout/\n',
    'jobs/example.ts': EXAMPLE_JOB,
    'test/example.test.ts': EXAMPLE_TEST,
    'README.md': readme(name),
  };
}

const EXAMPLE_JOB = `/**
 * Totals per user over generated orders, written exactly once to out/example/ as NDJSON part files (one line per
 * update of a user's total; the last line of a user is its total).
 *
 *   npx sluice run jobs/example.ts [--set orders=100000] [--set outDir=out]
 *
 * It checkpoints every second into .sluice/: stop it and run it again, and it resumes where it was. Once it has
 * finished, running it again reads nothing new; --fresh starts over (delete out/example/ first).
 *
 * Its output directory comes from the parameter outDir, which \`sluice verify\` points at a directory of its own:
 * \`npm run verify\` runs the job clean and with injected crashes, and checks that both wrote the same.
 */
import { join } from 'node:path';
import { defineJob, type Stream } from 'sluice';
import { datagen, fileSink } from 'sluice/dev';

export interface Order {
  user: string;
  amount: number;
}

export interface Total {
  user: string;
  total: number;
  orders: number;
}

/** The job's logic without its source and sink, so the test can run it on orders it chose. */
export function totalsPerUser(orders: Stream<Order>): Stream<Total> {
  return orders
    .filter((order) => order.amount > 0)
    .map((order): Total => ({ user: order.user, total: order.amount, orders: 1 }))
    .keyBy((total) => total.user)
    .reduce((a, b) => ({ user: a.user, total: a.total + b.total, orders: a.orders + b.orders }))
    .uid('totals-per-user');
}

export default defineJob({ name: 'example', parallelism: 2, checkpoints: { intervalMs: 1_000 } }, (env, params) => {
  const orders = env
    .source(datagen({ count: params.number('orders', 10_000), splits: 2, record: (i): Order => ({ user: \`user-\${i % 10}\`, amount: i % 5 }) }))
    .uid('orders');
  totalsPerUser(orders).sink(fileSink({ directory: join(params.string('outDir', 'out'), 'example') }));
});
`;

const EXAMPLE_TEST = `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineJob } from 'sluice';
import { collection, collectSink, CollectTarget } from 'sluice/dev';
import { runJob } from 'sluice/testing';
import { totalsPerUser, type Order, type Total } from '../jobs/example.ts';

test('a user\\'s total adds up the amounts of its orders, leaving out empty ones', async () => {
  const orders: Order[] = [
    { user: 'ann', amount: 3 },
    { user: 'bob', amount: 0 },
    { user: 'ann', amount: 4 },
    { user: 'bob', amount: 2 },
  ];
  const target = new CollectTarget<Total>();
  await runJob(
    defineJob({ name: 'example-test' }, (env) => {
      totalsPerUser(env.source(collection(orders))).sink(collectSink(target));
    }),
  );
  const latest = new Map(target.records.map((total) => [total.user, total]));
  assert.deepEqual(latest.get('ann'), { user: 'ann', total: 7, orders: 2 });
  assert.deepEqual(latest.get('bob'), { user: 'bob', total: 2, orders: 1 });
});
`;

function readme(name: string): string {
  return `# ${name}

Streaming jobs run with [Sluice](https://www.npmjs.com/package/sluice).

\`\`\`sh
npm install && npm start   # runs jobs/example.ts: totals per user over 10,000 generated orders, into out/example/
npm test                   # type-checks the project and runs test/example.test.ts
npm run verify             # runs the job clean and with injected crashes: EXACT if both wrote the same
\`\`\`

- \`jobs/example.ts\` is the job: a source, the logic (\`totalsPerUser\`) and a sink. Run any job file with
  \`npx sluice run jobs/<file>.ts\` (\`--set key=value\` for its parameters, \`-p N\` for its parallelism).
- \`test/example.test.ts\` runs the same logic on a fixed collection of orders in memory (\`runJob\` from
  \`sluice/testing\`) and checks what it wrote.
- \`sluice verify\` runs a job twice on an embedded Kafka and Elasticsearch, once with seeded crashes and restarts,
  and compares the outputs record for record. It gives the job the parameters \`brokers\`, \`esNode\` and \`outDir\`:
  take your endpoints and output directories from them.
- Checkpoints are kept in \`.sluice/\`: a stopped job resumes from them, and a finished one does not run again
  unless started with \`--fresh\`.
`;
}
