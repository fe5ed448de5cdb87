// Which file node runs for one of the rig's processes. `npm run build` bundles each entry
// point into one JavaScript file under dist/; a process started from its bundle boots several
// times faster than through the tsx loader, and costs next to nothing while idle (tsx keeps a
// loader thread busy: about 0.5 % of a core per process on a 2-core machine). A bundle is used
// only while it is newer than every source it was built from, so a stale one never runs old
// code; otherwise the TypeScript runs through tsx.
//
// A release (`npm run release`: release.json at its root, no node_modules, no TypeScript) holds
// only bundles: there every entry runs from lib/ unconditionally, and tsx is never named.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

function findRoot(from: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return null;
  }
}

/** Set by `npm run build` in each bundle (esbuild's define): where the project was when it was built. */
declare const __FORGE_PROJECT_ROOT__: string | undefined;

/**
 * The project's root (the folder holding package.json), found from this file first (a checkout
 * moved with its dist/ still finds itself), else the one a bundle built outside the project was
 * built from (npm run build -- --outdir).
 */
export const projectRoot: string = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = findRoot(here) ?? (typeof __FORGE_PROJECT_ROOT__ === 'string' ? __FORGE_PROJECT_ROOT__ : null);
  if (root === null) throw new Error(`no package.json above ${here}: cannot find the project's root`);
  return root;
})();

/** The marker at a release's root: `{"name", "version"}`, written by scripts/release.ts. */
export const RELEASE_MARKER = 'release.json';

/** True when this code runs from a release (release.json beside the root's package.json), not a checkout. */
export const isRelease: boolean = existsSync(join(projectRoot, RELEASE_MARKER));

/** The entry points `npm run build` bundles, by their path under agents/ without extension (plan/parseWorker is a worker thread's). */
export const BUNDLED_ENTRIES = ['worker/main', 'brain/main', 'gpu/main', 'sim/ollama-main', 'plan/parseWorker'] as const;
export type Entry = (typeof BUNDLED_ENTRIES)[number];

/**
 * Where the bundles are: in a release its lib/ (FORGE_DIST_DIR is ignored there: a release runs
 * only its own code); in a checkout dist/, or FORGE_DIST_DIR (inherited by every process the rig starts).
 */
export function distDir(): string {
  if (isRelease) return join(projectRoot, 'lib');
  return process.env.FORGE_DIST_DIR ?? join(projectRoot, 'dist');
}

function bundlePath(entry: Entry): string {
  return join(distDir(), 'agents', `${entry}.js`);
}

/** The project's source files the bundle was built from, relative to the root, beside it. */
function bundleInputsPath(entry: Entry): string {
  return join(distDir(), 'agents', `${entry}.inputs.json`);
}

/** True when the bundle exists and none of the sources it lists changed after it; in a release, always (it has no sources). */
export function bundleIsFresh(entry: Entry): boolean {
  if (isRelease) return true;
  return sourcesOlder(bundlePath(entry), bundleInputsPath(entry));
}

/** The forge command's bundle (dist/cli/forge.js) exists and is newer than its sources: bin/forge runs it. */
export function cliBundleIsFresh(): boolean {
  return isRelease || sourcesOlder(join(distDir(), 'cli', 'forge.js'), join(distDir(), 'cli', 'forge.inputs.json'));
}

/** The bundle exists and every source its list names is older than it. */
function sourcesOlder(bundle: string, inputsFile: string): boolean {
  try {
    const built = statSync(bundle).mtimeMs;
    const inputs = JSON.parse(readFileSync(inputsFile, 'utf8')) as unknown;
    if (!Array.isArray(inputs) || inputs.length === 0) return false;
    return inputs.every((f) => typeof f === 'string' && statSync(join(projectRoot, f)).mtimeMs <= built);
  } catch {
    return false; // no build, no list, or a source that moved: the TypeScript entry
  }
}

const chosen = new Map<Entry, { at: number; args: string[] }>();

/** How long (ms) nodeArgsFor trusts its last look at a bundle's freshness: a source edited while a rig runs is picked up within this. */
export const FRESH_CHECK_MS = 10_000;

/** node's arguments before the entry's own: the bundle while it is fresh, else tsx and the TypeScript. */
export function nodeArgsFor(entry: Entry): string[] {
  // Checked at most every FRESH_CHECK_MS per entry: a check is a stat of each source the
  // bundle lists (about fifty for the worker), and a busy agent starts a worker per task.
  const now = Date.now();
  const hit = chosen.get(entry);
  if (hit && now - hit.at < FRESH_CHECK_MS) return [...profileArgs(entry), ...hit.args];
  const args = bundleIsFresh(entry) ? [bundlePath(entry)] : ['--import', 'tsx', join(projectRoot, 'agents', `${entry}.ts`)];
  chosen.set(entry, { at: now, args });
  return [...profileArgs(entry), ...args];
}

/**
 * FORGE_CPU_PROF_DIR=DIR: the brain and the agents write a CPU profile there when they exit
 * (node refuses --cpu-prof in NODE_OPTIONS, and workers would each write one). For profiling.
 */
function profileArgs(entry: Entry): string[] {
  const dir = process.env.FORGE_CPU_PROF_DIR;
  if (!dir || (entry !== 'brain/main' && entry !== 'gpu/main')) return [];
  // FORGE_CPU_PROF_INTERVAL_US: a sampling interval above node's 1000 µs, for an idle process the profiler's own signals would swamp.
  const us = Number(process.env.FORGE_CPU_PROF_INTERVAL_US);
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...(Number.isInteger(us) && us > 0 ? [`--cpu-prof-interval=${us}`] : [])];
}

/** The commands another process may start: the launcher and submit (tools/harness/runRig.ts). */
export type Command = 'rig' | 'submit' | 'cancel' | 'retry' | 'pause' | 'resume' | 'signal' | 'status' | 'history' | 'forward' | 'ask' | 'adapters';

/**
 * node's arguments before a command's own: in a release `lib/forge.js <command>` (the bundled
 * forge CLI); in a checkout the command's TypeScript through tsx, as `npm run <command>` does.
 */
export function commandArgsFor(command: Command): string[] {
  if (isRelease) return [join(projectRoot, 'lib', 'forge.js'), command];
  // A checkout: the forge command's bundle (npm run build) while it is fresh, as bin/forge does.
  if (cliBundleIsFresh()) return [join(distDir(), 'cli', 'forge.js'), command];
  return ['--import', 'tsx', join(projectRoot, command === 'rig' ? 'agents/rig/main.ts' : `scripts/${command}.ts`)];
}

/** tsx's ESM API (tsImport), found from the project's own package.json whatever file this code was bundled into. */
function tsxApiUrl(): string {
  const pkgFile = createRequire(join(projectRoot, 'package.json')).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports?: Record<string, { import?: { default?: string } }> };
  const rel = pkg.exports?.['./esm/api']?.import?.default;
  if (!rel) throw new Error(`${pkgFile}: no exports['./esm/api'].import; cannot start a TypeScript worker thread without tsx's API`);
  return pathToFileURL(join(dirname(pkgFile), rel)).href;
}

/**
 * How to start an entry as a worker thread (new Worker(source, { eval })): its bundle while it
 * is fresh, else its TypeScript loaded through tsx's API, since a worker thread does not
 * inherit the parent's --import tsx.
 */
export function threadSourceFor(entry: Entry): { source: string; eval: boolean } {
  if (bundleIsFresh(entry)) return { source: bundlePath(entry), eval: false };
  const file = pathToFileURL(join(projectRoot, 'agents', `${entry}.ts`)).href;
  const code = `import(${JSON.stringify(tsxApiUrl())}).then((api) => api.tsImport(${JSON.stringify(file)}, ${JSON.stringify(file)}))`;
  return { source: code, eval: true };
}
