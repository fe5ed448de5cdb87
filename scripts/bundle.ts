// Bundles each process the rig starts (worker, brain, GPU agent, the simulator's Ollama server)
// into one JavaScript file under <dist>/agents/, with <entry>.inputs.json beside it listing the
// project's source files it was built from; agents/core/entry.ts picks the bundle while it is
// newer than each of those sources. Used by `forge build` (scripts/build.ts) and the bench.
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { type BuildOptions, type Plugin, build } from 'esbuild';
import { writeFileAtomic } from '../agents/core/atomic.ts';
import { FAST_COMMANDS } from '../agents/core/codeCache.ts';
import { BUNDLED_ENTRIES, projectRoot } from '../agents/core/entry.ts';

/** Build outputs are written whole (a rename), not synced: a lost build is built again. */
const NO_SYNC = { sync: false };

/** A project file a bundle was built from (not a package's, not a plugin's virtual module). */
const isProjectSource = (f: string) => !f.includes('node_modules/') && !f.includes(':');

/**
 * zod's classic API re-exports every one of its 60-odd message locales (`z.locales`), which
 * esbuild cannot drop: three quarters of zod's weight in every bundle, compiled at each start
 * of every command, daemon and worker. Forge words its own messages and uses none of them, so
 * the bundles carry English only (the locale zod configures itself with).
 */
export const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core|mini)$/.test(args.resolveDir) ? { path: 'zod-locales-en', namespace: 'zod-english-only', pluginData: args.resolveDir } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(`${args.pluginData as string}/../locales/en.js`)};`,
      resolveDir: args.pluginData as string,
    }));
  },
};

/** What every bundle shares (dist/ and releases): ESM for Node 20, the npm packages inside, English-only zod. */
export const ESM_NODE: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Bundled CommonJS dependencies call require() for Node's own modules; ESM has none of its own.
  banner: { js: "import { createRequire as __forgeCreateRequire } from 'node:module'; const require = __forgeCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  absWorkingDir: projectRoot,
  plugins: [zodEnglishOnly],
};

/**
 * The forge command: a chunk per subcommand. The developer tools (build, bench) load esbuild
 * and BullMQ, which a release does not carry: only their own chunks import them.
 */
export function cliOptions(outdir: string): BuildOptions {
  return { entryPoints: [`${projectRoot}/scripts/forge.ts`], outdir, splitting: true, entryNames: '[name]', chunkNames: '[name]-[hash]', external: ['esbuild', 'bullmq'] };
}

/**
 * The commands people run often and want at once (FAST_COMMANDS: status, submit, watch, signal,
 * logs), each whole in <outdir>/<name>.cjs, with agents/core/codeCache.ts beside them as
 * codeCache.cjs, which bin/forge loads to run them. CommonJS because only a vm.Script takes
 * V8's code cache on Node 20; whitespace and syntax minified (names kept, for stack traces)
 * because parsing is most of what is left of a cached start.
 */
export function fastCliOptions(outdir: string): BuildOptions {
  return {
    ...ESM_NODE,
    format: 'cjs',
    entryPoints: [...FAST_COMMANDS.map((c) => `${projectRoot}/scripts/${c}.ts`), `${projectRoot}/agents/core/codeCache.ts`],
    outdir,
    entryNames: '[name]',
    outExtension: { '.js': '.cjs' },
    minifyWhitespace: true,
    minifySyntax: true,
    // CommonJS has require and no import.meta: the one use (entry.ts, finding the root) gets the bundle's own URL.
    banner: { js: 'var __forgeImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
    define: { 'import.meta.url': '__forgeImportMetaUrl' },
  };
}

/**
 * The forge command (scripts/forge.ts) as <dist>/cli/forge.js and a chunk per command, so
 * `forge status` loads only what status needs, with <dist>/cli/forge.inputs.json: bin/forge
 * runs it while it is newer than those sources. The developer tools' packages stay outside.
 */
export async function buildCli(dist: string, say: (line: string) => void): Promise<void> {
  const out = `${dist}/cli`;
  const define = { __FORGE_PROJECT_ROOT__: JSON.stringify(projectRoot) };
  const result = await build({ ...ESM_NODE, ...cliOptions(out), define, metafile: true, write: false });
  const fastOptions = fastCliOptions(`${out}/fast`);
  const fast = await build({ ...fastOptions, define: { ...fastOptions.define, ...define }, metafile: true, write: false });
  await mkdir(`${out}/fast`, { recursive: true });
  const main = `${out}/forge.js`;
  // The fast bundles and the chunks first and the entry last, each whole: bin/forge goes by
  // forge.js's time, so a forge started meanwhile runs the old build or the new one.
  for (const f of fast.outputFiles) await writeFileAtomic(f.path, f.contents, NO_SYNC);
  for (const f of [...result.outputFiles].sort((a, b) => Number(a.path === main) - Number(b.path === main))) await writeFileAtomic(f.path, f.contents, NO_SYNC);
  // Chunks of earlier builds (other hashes) go, now that nothing new refers to them.
  const written = new Set(result.outputFiles.map((f) => basename(f.path)));
  for (const name of await readdir(out)) if (/^[\w-]+-[A-Z0-9]{8}\.js$/.test(name) && !written.has(name)) await unlink(join(out, name)).catch(() => {});
  // Each fast command's own sources and codeCache.cjs's, beside its bundle: bin/forge checks a
  // few dozen files before `forge status` instead of every source of the CLI.
  const sourcesOf = (o: { inputs: Record<string, unknown> }) => Object.keys(o.inputs).filter(isProjectSource);
  const fastOut = (name: string) => fast.metafile.outputs[relative(projectRoot, `${out}/fast/${name}.cjs`)];
  const loader = sourcesOf(fastOut('codeCache') ?? { inputs: {} });
  for (const c of FAST_COMMANDS) {
    const own = fastOut(c);
    if (!own || !loader.length) throw new Error(`esbuild listed no sources for ${out}/fast/${c}.cjs`);
    await writeFileAtomic(`${out}/fast/${c}.inputs.json`, inputsText(new Set([...sourcesOf(own), ...loader])), NO_SYNC);
  }
  const sources = new Set<string>();
  for (const r of [result, fast]) for (const o of Object.values(r.metafile.outputs)) for (const f of sourcesOf(o)) sources.add(f);
  await writeFileAtomic(`${out}/forge.inputs.json`, inputsText(sources), NO_SYNC);
  say(`built ${main} (${result.outputFiles.length} files, ${fast.outputFiles.length} in fast/, ${sources.size + 1} sources)`);
}

/** A bundle's inputs file: its project sources, sorted, and package-lock.json (a dependency's update). */
function inputsText(sources: ReadonlySet<string>): string {
  return JSON.stringify([...[...sources].sort(), 'package-lock.json'], null, 1) + '\n';
}

/** Builds every bundled entry into dist; `say` hears one line per bundle written. */
export async function buildBundles(dist: string, say: (line: string) => void): Promise<void> {
  const result = await build({
    ...ESM_NODE,
    entryPoints: BUNDLED_ENTRIES.map((e) => `${projectRoot}/agents/${e}.ts`),
    outdir: `${dist}/agents`,
    outbase: `${projectRoot}/agents`,
    // The bundle may be built outside the project (--outdir): it is told where the sources are.
    define: { __FORGE_PROJECT_ROOT__: JSON.stringify(projectRoot) },
    metafile: true,
    write: false,
  });
  for (const entry of BUNDLED_ENTRIES) {
    const out = `${dist}/agents/${entry}.js`;
    const file = result.outputFiles.find((f) => f.path === out);
    if (!file) throw new Error(`esbuild wrote no ${out}`);
    // Whole or not at all: a running agent may start a worker from this file at any moment.
    await mkdir(dirname(out), { recursive: true });
    await writeFileAtomic(out, file.contents, NO_SYNC);
    // After the bundle, so a reader never sees inputs newer than the bundle they describe.
    const meta = result.metafile.outputs[relative(projectRoot, out)];
    const sources = Object.keys(meta?.inputs ?? {}).filter(isProjectSource).sort();
    if (!sources.length) throw new Error(`esbuild listed no sources for ${out}`);
    // The packages bundled with them: a changed lock file (an upgrade) makes the bundle stale too.
    const inputs = [...sources, 'package-lock.json'];
    await writeFileAtomic(`${dist}/agents/${entry}.inputs.json`, JSON.stringify(inputs, null, 1) + '\n', NO_SYNC);
    say(`built ${out} (${inputs.length} sources)`);
  }
}
