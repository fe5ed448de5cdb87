// npm run release -- [--outdir DIR]: a release that needs only Node 20 (no npm, no node_modules,
// no TypeScript), for the air-gapped rig and the Pi. Writes DIR/forge-<version>/ (default DIR:
// release/) and DIR/forge-<version>.tar.gz, and prints the tarball's absolute path last:
//
//   bin/forge            #!/usr/bin/env node: runs lib/forge.js (`forge <command> [args...]`)
//   lib/forge.js         the forge CLI, split into chunks (lib/*-HASH.js) so each command loads only its own code
//   lib/fast/            status, submit, watch, signal and logs, each whole as CommonJS (agents/core/codeCache.ts)
//   lib/agents/...js     each process the rig starts (agents/core/entry.ts BUNDLED_ENTRIES), one bundle each
//   agents/sim/          the simulated nvidia-smi (bin/nvidia-smi, nvidia-smi.mjs), found from the root
//   plans/ docs/ README.md CHANGELOG.md share/systemd/ (unit files: docs/OPERATIONS.md)
//   package.json         {"name", "version", "type": "module"}: no dependencies
//   release.json         the marker agents/core/entry.ts reads: run every entry from lib/, never tsx
//
// The chunks sit directly in lib/ so that code using its own folder (`import.meta.dirname/..`)
// finds the release's root, as it finds the checkout's from scripts/.
import { chmod, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build, type BuildOptions } from 'esbuild';
import { execa } from 'execa';
import { BUNDLED_ENTRIES, RELEASE_MARKER, projectRoot } from '../agents/core/entry.ts';
import { ESM_NODE, cliOptions, fastCliOptions } from './bundle.ts';

/** Copied as they are, relative to the root: what the release reads from its root at run time. */
const COPIED = ['agents/sim/bin/nvidia-smi', 'agents/sim/nvidia-smi.mjs', 'plans', 'docs', 'share', 'README.md', 'CHANGELOG.md'];

const BIN_FORGE = `#!/usr/bin/env node
// Forge's command: forge <command> [args...]. Runs the bundled CLI of this release; node
// resolves a symlink to this file (e.g. /usr/local/bin/forge) before loading it. status,
// submit, watch, signal and logs start from lib/fast/ with V8's code cache (in ~/.cache/forge);
// CommonJS (bin/package.json), so those never start node's ES module loader.
'use strict';
const { join } = require('node:path');
const lib = join(__dirname, '..', 'lib');
if (!require(join(lib, 'fast', 'codeCache.cjs')).runFastCommand(lib)) {
  import(require('node:url').pathToFileURL(join(lib, 'forge.js')).href).catch((err) => {
    process.stderr.write(\`\${err?.stack ?? err}\\n\`);
    process.exit(1);
  });
}
`;

/** The bundles' options (scripts/bundle.ts), pointing nowhere back at this checkout: a release finds its root from its own files (package.json above lib/). */
const COMMON: BuildOptions = { ...ESM_NODE, define: { __FORGE_PROJECT_ROOT__: 'undefined' } };

async function bundle(lib: string): Promise<void> {
  await build({ ...COMMON, ...cliOptions(lib) });
  const fast = fastCliOptions(join(lib, 'fast'));
  await build({ ...fast, define: { ...fast.define, ...COMMON.define } });
  await build({ ...COMMON, entryPoints: BUNDLED_ENTRIES.map((e) => join(projectRoot, 'agents', `${e}.ts`)), outdir: join(lib, 'agents'), outbase: join(projectRoot, 'agents') });
}

async function writeRoot(dir: string, pkg: { name: string; version: string }): Promise<void> {
  for (const rel of COPIED) await cp(join(projectRoot, rel), join(dir, rel), { recursive: true });
  const meta = { name: pkg.name, version: pkg.version };
  await writeFile(join(dir, 'package.json'), JSON.stringify({ ...meta, type: 'module' }, null, 2) + '\n');
  await writeFile(join(dir, RELEASE_MARKER), JSON.stringify(meta, null, 2) + '\n');
  await mkdir(join(dir, 'bin'));
  await writeFile(join(dir, 'bin', 'forge'), BIN_FORGE);
  await writeFile(join(dir, 'bin', 'package.json'), '{"type": "commonjs"}\n');
  await chmod(join(dir, 'bin', 'forge'), 0o755);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
  const outdir = resolve(values.outdir ?? join(projectRoot, 'release'));
  const pkg = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')) as { name: string; version: string };
  const name = `forge-${pkg.version}`;
  // Built beside its final place, then renamed: a half-built release never carries the name.
  const staging = join(outdir, `.${name}.${process.pid}.tmp`);
  const dir = join(outdir, name);
  const tarball = join(outdir, `${name}.tar.gz`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    await bundle(join(staging, 'lib'));
    await writeRoot(staging, pkg);
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  await execa('tar', ['-czf', `${tarball}.tmp`, '-C', outdir, name]);
  await rename(`${tarball}.tmp`, tarball);
  process.stdout.write(`built ${dir}\n${tarball}\n`);
}

await main();
