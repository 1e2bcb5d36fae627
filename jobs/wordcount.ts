/**
 * Word count: the smallest complete Sluice job. Reads a bounded text, splits it into words, counts each word with a
 * keyed reduce and writes the running counts as NDJSON part files (the last line per word is its final count).
 *
 *   sluice run jobs/wordcount.ts --set output=out/wordcount -p 2
 */
import { readFileSync } from 'node:fs';
import { collection, fileSink } from '../connectors/dev/index.ts';
import { defineJob } from '../runtime/api/index.ts';

const SAMPLE = `It was the best of times, it was the worst of times, it was the age of wisdom,
it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity,
it was the season of Light, it was the season of Darkness, it was the spring of hope,
it was the winter of despair, we had everything before us, we had nothing before us,
we were all going direct to Heaven, we were all going direct the other way`;

export interface WordCount {
  word: string;
  count: number;
}

export default defineJob({ name: 'wordcount', parallelism: 2 }, (env, params) => {
  const text = params.has('input') ? readFileSync(params.string('input'), 'utf8') : SAMPLE;
  env
    .source(collection(text.split('\n'), { splits: 2 }))
    .uid('lines')
    .flatMap((line) => line.toLowerCase().split(/[^\p{L}\p{N}']+/u))
    .filter((word) => word.length > 0)
    .map((word): WordCount => ({ word, count: 1 }))
    .keyBy((w) => w.word)
    .reduce((a, b) => ({ word: a.word, count: a.count + b.count }))
    .uid('counts')
    .sink(fileSink({ directory: params.string('output', 'out/wordcount') }));
});
