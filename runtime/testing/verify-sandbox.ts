import { isAbsolute, relative, resolve } from 'node:path';
import type { ConnectorEndpoint } from '../api/index.ts';
import { SluiceError } from '../errors/index.ts';
import type { PhysicalPlan } from '../graph/index.ts';
import { TestingErrorCodes } from './testing-errors.ts';

/** What one verify run may touch: its devstack and its own output directory. @internal */
export interface VerifySandbox {
  readonly brokers: readonly string[];
  readonly esNode: string;
  readonly outDir: string;
}

/**
 * Checks, before a verify run starts, that the job reads and writes only inside `sandbox`. A run that does not is
 * refused: a job with a fileSink at `out/totals` would write both runs into the user's own directory, one with its
 * brokers written into the job would read, write and commit offsets on a real cluster. Connectors declare what they
 * touch in `endpoints` (runtime/api/connector.ts); a connector of the job's own that declares nothing is trusted.
 * @internal
 */
export function checkVerifiable(plan: PhysicalPlan, sandbox: VerifySandbox): void {
  const outside: string[] = [];
  for (const { what, kind, endpoints } of connectorsOf(plan)) {
    for (const endpoint of endpoints) {
      const problem = outsideOf(endpoint, sandbox);
      if (problem !== undefined) outside.push(`${what} ${kind === 'source' ? 'uses' : 'writes to'} ${problem}`);
    }
  }
  if (outside.length === 0) return;
  throw new SluiceError(
    TestingErrorCodes.outsideDevstack,
    `verify will not run job "${plan.job}", whose runs would reach outside verify's devstack: ${outside.join('; ')}. Take every endpoint ` +
      `from the job's parameters, which verify points at its devstack and at an empty directory of each run: ` +
      `params.string('brokers'), params.string('esNode'), and paths under params.string('outDir') (docs/testing.md)`,
    { retriable: false },
  );
}

/**
 * Checks that a job reading Kafka is given its input: verify runs such a job until a checkpoint covers the seeded
 * records, so without any it would stop at once and compare nothing (and a topic the job lists must exist first).
 * @internal
 */
export function checkInputs(plan: PhysicalPlan, inputTopics: readonly string[]): void {
  if (inputTopics.length > 0) return;
  const readers = connectorsOf(plan).filter((c) => c.kind === 'source' && c.endpoints.some((e) => e.system === 'kafka'));
  if (readers.length === 0) return;
  throw new SluiceError(
    TestingErrorCodes.noInput,
    `verify needs the records job "${plan.job}" reads from Kafka (${readers.map((c) => c.what).join(', ')}): pass each topic's records ` +
      `as a file of JSON lines, --input <topic>=<file.jsonl> (verifyJob: options.inputs); verify creates the topics and fills them before each run`,
    { retriable: false },
  );
}

/**
 * The error for a clean run that wrote nothing verify can read: comparing nothing with nothing is no verification.
 * @internal
 */
export function nothingToCompare(plan: PhysicalPlan): SluiceError {
  const sinks = connectorsOf(plan).filter((c) => c.kind === 'sink').map((c) => c.what);
  return new SluiceError(
    TestingErrorCodes.nothingToCompare,
    `verify cannot check job "${plan.job}": its clean run wrote nothing verify can read (sinks: ${sinks.join(', ') || 'none'}). verify ` +
      `compares what a job writes to Kafka topics, Elasticsearch indices and part files under params.string('outDir'); point a sink there`,
    { retriable: false },
  );
}

interface PlannedConnector {
  readonly what: string;
  readonly kind: 'source' | 'sink';
  readonly endpoints: readonly ConnectorEndpoint[];
}

function connectorsOf(plan: PhysicalPlan): PlannedConnector[] {
  const connectors: PlannedConnector[] = [];
  for (const stage of plan.stages) {
    for (const { uid, node } of stage.operators) {
      const connector = node.kind === 'source' ? node.source : node.kind === 'sink' ? node.sink : undefined;
      if (connector === undefined) continue;
      connectors.push({ what: `${node.kind} "${uid}" (${connector.name})`, kind: node.kind === 'source' ? 'source' : 'sink', endpoints: connector.endpoints ?? [] });
    }
  }
  return connectors;
}

/** Where `endpoint` is, when outside `sandbox` (after "uses" or "writes to"); undefined when inside. */
function outsideOf(endpoint: ConnectorEndpoint, sandbox: VerifySandbox): string | undefined {
  switch (endpoint.system) {
    case 'kafka': {
      const foreign = endpoint.brokers.filter((broker) => !sandbox.brokers.includes(broker));
      return foreign.length === 0 ? undefined : `Kafka at ${foreign.join(', ')}, not the devstack's broker (${sandbox.brokers.join(', ')})`;
    }
    case 'elasticsearch': {
      const own = withoutTrailingSlash(sandbox.esNode);
      const foreign = endpoint.nodes.filter((node) => withoutTrailingSlash(node) !== own);
      return foreign.length === 0 ? undefined : `Elasticsearch at ${foreign.join(', ')}, not the devstack's (${own})`;
    }
    case 'files': {
      const path = resolve(endpoint.path);
      const inside = relative(resolve(sandbox.outDir), path);
      return !inside.startsWith('..') && !isAbsolute(inside) ? undefined : `${path}, outside the run's directory (parameter outDir, ${sandbox.outDir})`;
    }
  }
}

function withoutTrailingSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}
