// npm run build: bundles the worker into one JavaScript file, dist/agents/worker/main.js,
// with main.inputs.json beside it listing the project's source files it was built from.
// Every task starts a worker, and starting agents/worker/main.ts through the tsx loader costs
// several times what starting one bundled file does (npm run bench shows both). The GPU
// agent starts workers from the bundle while it is newer than each of those sources
// (agents/gpu/spawnWorker.ts), and from the TypeScript otherwise.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = `${root}dist/agents/worker/main.js`;
const result = await build({
  entryPoints: [`${root}agents/worker/main.ts`],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Bundled CommonJS dependencies call require() for Node's own modules; ESM has none of its own.
  banner: { js: "import { createRequire as __forgeCreateRequire } from 'node:module'; const require = __forgeCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  metafile: true,
  absWorkingDir: root,
});
// Written after the bundle, so a reader never sees inputs newer than the bundle they describe.
const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules/')).sort();
await writeFile(`${root}dist/agents/worker/main.inputs.json`, JSON.stringify(inputs, null, 1) + '\n');
process.stdout.write(`built ${outfile}\n`);
