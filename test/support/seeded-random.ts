/** A seeded PRNG (mulberry32) so tests that pick random failure points are repeatable: the harness's own. */
export { seededRandom } from '../../runtime/testing/seeded-random.ts';
