/**
 * Module hooks (`module.register`) that let a job file live anywhere: `/tmp/x/orders.ts` with no package.json near
 * it, or in a project without `"type": "module"`. Registered once by {@link loadJobFile} in the process that loads
 * jobs (`sluice run`, `sluice start`); they run in Node's hooks thread, before tsx's own hooks.
 *
 * - **ESM, always.** tsx gives a `.ts` file the format of its nearest package.json, so in a folder without
 *   `"type": "module"` it compiles the job to CommonJS, whose `import`s of Sluice (ESM) become `require()`s, and
 *   Node 20 refuses them ("Cannot require() ES Module … in a cycle"). Job files are written as ES modules
 *   (`export default defineJob(...)`), so a `.ts`/`.tsx` file outside node_modules whose package does not declare a
 *   `type` is loaded as ESM, and so is a `.js` file there that uses `import`/`export` (`.mts`/`.mjs` are ESM anyway). A package that says
 *   `"type": "commonjs"` keeps it.
 * - **`sluice` resolves.** A bare `import … from 'sluice'` (or `sluice/dev`, …) that Node cannot resolve from the job's
 *   folder — nothing installed there — resolves to the Sluice that is running the job, which is the one a job needs.
 * - **Cluster job bundles find their packages** where the member runs: a bare import in a bundle under a
 *   `cluster-bundles` folder that does not resolve from there resolves from the member's working directory.
 *
 * This file runs from dist/ in the package and from source in the repo; the entry table below mirrors package.json
 * `exports` with paths relative to this file's root, which are the same in both layouts.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ResolveHook } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

/** package.json `exports` subpath → module path from the package root (dist/ or the repo), without extension. */
export const OWN_ENTRIES: Readonly<Record<string, string>> = {
  sluice: 'runtime/api/index',
  'sluice/kafka': 'connectors/kafka/index',
  'sluice/elasticsearch': 'connectors/elasticsearch/index',
  'sluice/dev': 'connectors/dev/index',
  'sluice/testing': 'runtime/testing/index',
};

const OWN_ROOT = new URL('../../', import.meta.url);
const OWN_EXTENSION = extname(fileURLToPath(import.meta.url));
const TYPESCRIPT = new Set(['.ts', '.tsx']);
const JAVASCRIPT = new Set(['.js']);
/** directory → the `type` of the package.json that governs it (`undefined`: none declared). */
const packageTypes = new Map<string, string | undefined>();

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  let resolved;
  try {
    resolved = await nextResolve(specifier, context);
  } catch (err) {
    const own = OWN_ENTRIES[specifier];
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    if (own !== undefined) return { url: new URL(`${own}${OWN_EXTENSION}`, OWN_ROOT).href, format: 'module', shortCircuit: true };
    if (!isClusterBundle(context.parentURL)) throw err;
    // A job bundle a cluster member received keeps its packages as imports; they are installed where the member runs.
    return nextResolve(specifier, { ...context, parentURL: pathToFileURL(join(process.cwd(), 'cluster-job.mjs')).href });
  }
  // tsx resolves `x.js` to `x.ts` when both exist (TypeScript's convention for relative imports). A job file is
  // imported by its absolute URL, and `sluice run x.js` means x.js.
  if (specifier.startsWith('file:') && resolved.url !== specifier && existsSync(fileURLToPath(specifier))) {
    resolved = { ...resolved, url: specifier, format: undefined };
  }
  if (!resolved.url.startsWith('file:') || resolved.url.includes('/node_modules/')) return resolved;
  const path = fileURLToPath(resolved.url);
  const extension = extname(path);
  if (extension === '.mjs' || extension === '.mts') return { ...resolved, format: 'module' };
  if (resolved.format !== undefined && resolved.format !== null && !resolved.format.startsWith('commonjs')) return resolved;
  if (!TYPESCRIPT.has(extension) && !JAVASCRIPT.has(extension)) return resolved;
  if (packageType(dirname(path)) !== undefined) return resolved;
  if (JAVASCRIPT.has(extension) && !usesModuleSyntax(path)) return resolved;
  return { ...resolved, format: 'module' };
};

/** Folder name of the job bundles a cluster member writes (runtime/cluster/jobs/job-bundle.ts). */
export const CLUSTER_BUNDLES_FOLDER = 'cluster-bundles';

function isClusterBundle(parentURL: string | undefined): boolean {
  return parentURL !== undefined && parentURL.startsWith('file:') && fileURLToPath(parentURL).split(/[\\/]/).includes(CLUSTER_BUNDLES_FOLDER);
}

/** The `type` declared by the nearest package.json above `directory`, or undefined when none declares one. */
function packageType(directory: string): string | undefined {
  if (packageTypes.has(directory)) return packageTypes.get(directory);
  let type: string | undefined;
  let manifest: string | undefined;
  try {
    manifest = readFileSync(join(directory, 'package.json'), 'utf8');
  } catch {
    manifest = undefined;
  }
  if (manifest !== undefined) {
    try {
      const parsed = JSON.parse(manifest) as { type?: unknown };
      type = typeof parsed.type === 'string' ? parsed.type : undefined;
    } catch {
      type = undefined;
    }
  } else {
    const parent = dirname(directory);
    type = parent === directory ? undefined : packageType(parent);
  }
  packageTypes.set(directory, type);
  return type;
}

/**
 * Whether a `.js` file is an ES module: it fails to parse as a script with the errors only `import`/`export` cause.
 * (Node 20 detects this itself only from 20.19; this keeps the rule the same on every 20.x.)
 */
function usesModuleSyntax(path: string): boolean {
  try {
    new Script(readFileSync(path, 'utf8'), { filename: path });
    return false;
  } catch (err) {
    const message = err instanceof SyntaxError ? err.message : '';
    return /Cannot use import statement|Unexpected token 'export'|import\.meta|await is only valid/.test(message);
  }
}
