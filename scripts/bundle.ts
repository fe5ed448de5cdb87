// Bundles each process the rig starts (worker, brain, GPU agent, the simulator's Ollama server)
// into one JavaScript file under <dist>/agents/, with <entry>.inputs.json beside it listing the
// project's source files it was built from; agents/core/entry.ts picks the bundle while it is
// newer than each of those sources. Used by `forge build` (scripts/build.ts) and the bench.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { build } from 'esbuild';
import { BUNDLED_ENTRIES, projectRoot } from '../agents/core/entry.ts';

/** Builds every bundled entry into dist; `say` hears one line per bundle written. */
export async function buildBundles(dist: string, say: (line: string) => void): Promise<void> {
  const result = await build({
    entryPoints: BUNDLED_ENTRIES.map((e) => `${projectRoot}/agents/${e}.ts`),
    outdir: `${dist}/agents`,
    outbase: `${projectRoot}/agents`,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Bundled CommonJS dependencies call require() for Node's own modules; ESM has none of its own.
    banner: { js: "import { createRequire as __forgeCreateRequire } from 'node:module'; const require = __forgeCreateRequire(import.meta.url);" },
    // The bundle may be built outside the project (--outdir): it is told where the sources are.
    define: { __FORGE_PROJECT_ROOT__: JSON.stringify(projectRoot) },
    logLevel: 'warning',
    metafile: true,
    write: false,
    absWorkingDir: projectRoot,
  });
  for (const entry of BUNDLED_ENTRIES) {
    const out = `${dist}/agents/${entry}.js`;
    const file = result.outputFiles.find((f) => f.path === out);
    if (!file) throw new Error(`esbuild wrote no ${out}`);
    // Whole or not at all: a running agent may start a worker from this file at any moment.
    await mkdir(dirname(out), { recursive: true });
    await writeFile(`${out}.tmp`, file.contents);
    await rename(`${out}.tmp`, out);
    // After the bundle, so a reader never sees inputs newer than the bundle they describe.
    const meta = result.metafile.outputs[relative(projectRoot, out)];
    const sources = Object.keys(meta?.inputs ?? {}).filter((f) => !f.includes('node_modules/')).sort();
    if (!sources.length) throw new Error(`esbuild listed no sources for ${out}`);
    // The packages bundled with them: a changed lock file (an upgrade) makes the bundle stale too.
    const inputs = [...sources, 'package-lock.json'];
    const list = `${dist}/agents/${entry}.inputs.json`;
    await writeFile(`${list}.tmp`, JSON.stringify(inputs, null, 1) + '\n');
    await rename(`${list}.tmp`, list);
    say(`built ${out} (${inputs.length} sources)`);
  }
}
