// `npm run release`: the tarball, unpacked where no node_modules is above it and run with a
// PATH holding only node (no npm, npx or tsx), runs the demo to `complete` and answers
// `forge status --json`. tsx cannot be found there, so every process the rig started (brain,
// agent, workers, the simulator) ran from the release's own bundles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { access, constants, mkdir, mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { BUNDLED_ENTRIES, projectRoot } from '../../agents/core/entry.ts';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** The folders from dir up to / that hold a node_modules: none, or node could find packages there. */
function nodeModulesAbove(dir: string): string[] {
  const found: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) found.push(d);
    if (dirname(d) === d) return found;
  }
}

/** Builds the release into out/; returns the tarball path it printed last. */
async function buildRelease(out: string): Promise<string> {
  const r = await execa(process.execPath, ['--import', 'tsx', 'scripts/release.ts', '--outdir', out], { cwd: projectRoot, reject: false });
  assert.equal(r.exitCode, 0, String(r.stderr));
  const tarball = String(r.stdout).trim().split('\n').at(-1)!;
  assert.equal(tarball, join(out, `forge-${JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')).version}.tar.gz`));
  assert.ok(existsSync(tarball), `${tarball} exists`);
  return tarball;
}

async function assertLayout(root: string): Promise<void> {
  await access(join(root, 'bin', 'forge'), constants.X_OK);
  assert.match(await readFile(join(root, 'bin', 'forge'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
  for (const e of BUNDLED_ENTRIES) assert.ok(existsSync(join(root, 'lib', 'agents', `${e}.js`)), `lib/agents/${e}.js`);
  for (const f of ['lib/forge.js', 'release.json', 'agents/sim/bin/nvidia-smi', 'agents/sim/nvidia-smi.mjs', 'plans/hello/plan.md', 'docs/OPERATIONS.md', 'README.md', 'CHANGELOG.md', 'share/systemd/forge-rig.service']) {
    assert.ok(existsSync(join(root, f)), `${f} is in the release`);
  }
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(pkg).sort(), ['name', 'type', 'version']);
  const files = await filesUnder(root);
  assert.deepEqual(files.filter((f) => f.includes('node_modules') || /\.(ts|mts|cts)$/.test(f)), [], 'no node_modules and no TypeScript');
}

test('the release runs the demo and status with nothing but node on PATH', async () => {
  const out = await mkdtemp(join(tmpdir(), 'forge-release-build-'));
  const place = await mkdtemp(join(tmpdir(), 'forge-release-run-'));
  try {
    const tarball = await buildRelease(out);
    await execa('tar', ['-xzf', tarball, '-C', place]);
    const [name] = await readdir(place);
    const root = join(place, name!);
    await assertLayout(root);
    assert.deepEqual(nodeModulesAbove(root), [], 'the unpacked release has no node_modules above it');

    const bin = join(place, 'bin');
    await mkdir(bin);
    await symlink(process.execPath, join(bin, 'node'));
    await mkdir(join(place, 'tmp'));
    const env = { PATH: bin, HOME: place, TMPDIR: join(place, 'tmp') };
    const run = { cwd: root, env, extendEnv: false, reject: false } as const;
    // What makes this test able to fail: from here, tsx is out of reach.
    assert.notEqual((await execa('node', ['--import', 'tsx', '-e', '0'], run)).exitCode, 0, 'tsx is out of reach');

    const demo = await execa(join(root, 'bin', 'forge'), ['demo', '--plan', 'hello', '--gpus', '1'], { ...run, timeout: 180_000 });
    assert.equal(demo.exitCode, 0, `${demo.stdout}\n${demo.stderr}`);
    assert.equal(String(demo.stdout).trim().split('\n').at(-1), 'complete');

    const mount = join(place, 'mount');
    await mkdir(mount);
    const status = await execa(join(root, 'bin', 'forge'), ['status', '--json', '--shared', mount], run).pipe('node', ['-e', 'JSON.parse(require("fs").readFileSync(0, "utf8"))'], run);
    assert.equal(status.exitCode, 0, String(status.stderr));
    assert.equal(status.pipedFrom[0]?.exitCode, 0, String(status.pipedFrom[0]?.stderr));
  } finally {
    await rm(out, { recursive: true, force: true });
    await rm(place, { recursive: true, force: true });
  }
});
