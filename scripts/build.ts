// forge build (npm run build): bundles each process the rig starts (worker, brain, GPU agent, the simulator's
// Ollama server) into one JavaScript file under dist/agents/, with <entry>.inputs.json beside
// it listing the project's source files it was built from. Started from its bundle a process
// boots several times faster than through the tsx loader and costs next to nothing while idle
// (npm run bench shows both); agents/core/entry.ts picks the bundle while it is newer than
// each of those sources, and the TypeScript otherwise.
//
// forge build [--outdir DIR]: DIR instead of dist/ (then run the rig with FORGE_DIST_DIR=DIR).
import { resolve } from 'node:path';
import { parseStrict } from '../agents/core/args.ts';
import { distDir } from '../agents/core/entry.ts';
import { buildBundles, buildCli } from './bundle.ts';

const USAGE = `usage: forge build [--outdir DIR]
  --outdir DIR  write the bundles to DIR instead of dist/ (then run the rig with FORGE_DIST_DIR=DIR)
  -h, --help    print this help and exit`;
const { values } = parseStrict(USAGE, { outdir: { type: 'string' } }, undefined, { positionals: { max: 0 } });
const out = values.outdir === undefined ? distDir() : resolve(values.outdir);
await buildBundles(out, (line) => process.stdout.write(line + '\n'));
await buildCli(out, (line) => process.stdout.write(line + '\n'));
