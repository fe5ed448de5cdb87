// agents/core/codeCache.ts: a CommonJS bundle run with V8's code cache. Each run is a real
// node process (the cache is written at exit), on real files in a temp dir.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { cacheFileName, codeCacheDir, runFastCommand } from '../../agents/core/codeCache.ts';

const MODULE = join(import.meta.dirname, '..', '..', 'agents', 'core', 'codeCache.ts');
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forge-code-cache-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A bundle that prints what it says and whether require works, padded to a fixed length. */
function bundleText(says: string): string {
  const body = `module.exports = 1; process.stdout.write(JSON.stringify({ says: ${JSON.stringify(says)}, path: typeof require('node:path').join }) + '\\n');`;
  return body + ' '.repeat(400 - body.length) + '\n';
}

/** Runs the bundle in a fresh node through runWithCodeCache; its output and whether the cache was hit. */
async function run(bundle: string, env: Record<string, string> = {}) {
  const script = `import { runWithCodeCache } from ${JSON.stringify(MODULE)}; const r = runWithCodeCache(${JSON.stringify(bundle)}); process.stderr.write(JSON.stringify(r));`;
  const r = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { FORGE_CODE_CACHE: join(dir, 'cache'), ...env }, reject: false });
  assert.equal(r.exitCode, 0, r.stderr);
  return { out: JSON.parse(r.stdout) as { says: string; path: string }, run: JSON.parse(r.stderr) as { cacheFile: string | null; hit: boolean } };
}

test('the first run compiles and saves the cache at exit; the next one runs from it', async () => {
  const bundle = join(dir, 'a.cjs');
  await writeFile(bundle, bundleText('one'));
  const first = await run(bundle);
  assert.deepEqual(first.out, { says: 'one', path: 'function' });
  assert.equal(first.run.hit, false);
  assert.ok(first.run.cacheFile?.startsWith(join(dir, 'cache', `v8-${process.version}-${process.arch}`)));
  const second = await run(bundle);
  assert.equal(second.run.hit, true, 'the second run takes the saved code');
  assert.deepEqual(second.out, { says: 'one', path: 'function' });
});

test('a rebuilt bundle of the same length never runs the old code', async () => {
  const bundle = join(dir, 'b.cjs');
  await writeFile(bundle, bundleText('old'));
  await run(bundle);
  assert.equal((await run(bundle)).run.hit, true);
  // V8 checks a cache against its source's length only: the same length, other code.
  const tmp = `${bundle}.new`;
  await writeFile(tmp, bundleText('new'));
  await import('node:fs/promises').then((fs) => fs.rename(tmp, bundle));
  const after = await run(bundle);
  assert.equal(after.out.says, 'new');
  assert.equal(after.run.hit, false);
  // The old build's cache is dropped when the new one is saved.
  const caches = (await readdir(join(dir, 'cache', `v8-${process.version}-${process.arch}`))).filter((f) => f.startsWith('b.cjs-'));
  assert.equal(caches.length, 1);
});

test('the same bundle in two folders keeps a cache each; a rebuild drops its own folder\'s old cache, and only the latest other folders\' are kept', async () => {
  const cache = join(dir, 'cache', `v8-${process.version}-${process.arch}`);
  const bundles = await Promise.all(['x1', 'x2', 'x3', 'x4', 'x5'].map(async (d) => {
    await mkdir(join(dir, d));
    const bundle = join(dir, d, 'two.cjs');
    await writeFile(bundle, bundleText(d));
    return bundle;
  }));
  const [one, two] = bundles as [string, string];
  await run(one);
  await run(two);
  assert.equal((await run(one)).run.hit, true, 'used by turns, each keeps its cache');
  assert.equal((await run(two)).run.hit, true);
  // A rebuild in x1: its old cache goes, x2's stays.
  await writeFile(`${one}.new`, bundleText('x1 again'));
  await rename(`${one}.new`, one);
  assert.equal((await run(one)).run.hit, false);
  const names = async () => (await readdir(cache)).filter((f) => f.startsWith('two.cjs-')).sort();
  assert.equal((await names()).length, 2);
  assert.equal((await run(two)).run.hit, true);
  // Three more folders: x2's (saved before x1's rebuild: the oldest of the others) goes when x5's is saved.
  for (const b of bundles.slice(2)) {
    await new Promise((r) => setTimeout(r, 20)); // distinct modification times
    await run(b);
  }
  const left = await names();
  assert.equal(left.length, 4);
  assert.equal((await run(two)).run.hit, false, "x2's cache was dropped");
});

test('a corrupt cache is refused by V8: the bundle still runs, and the cache is written again', async () => {
  const bundle = join(dir, 'c.cjs');
  await writeFile(bundle, bundleText('c'));
  const first = await run(bundle);
  await writeFile(first.run.cacheFile!, Buffer.alloc(5000, 7));
  const second = await run(bundle);
  assert.equal(second.out.says, 'c');
  assert.equal(second.run.hit, false);
  assert.equal((await run(bundle)).run.hit, true);
});

test('FORGE_CODE_CACHE=off: no cache read or written', async () => {
  const bundle = join(dir, 'd.cjs');
  await writeFile(bundle, bundleText('d'));
  const r = await run(bundle, { FORGE_CODE_CACHE: 'off' });
  assert.equal(r.out.says, 'd');
  assert.deepEqual(r.run, { cacheFile: null, hit: false });
});

test('an unwritable cache folder costs only the compile', async () => {
  const bundle = join(dir, 'e.cjs');
  await writeFile(bundle, bundleText('e'));
  const blocker = join(dir, 'a-file');
  await writeFile(blocker, 'x');
  const r = await run(bundle, { FORGE_CODE_CACHE: join(blocker, 'cache') });
  assert.equal(r.out.says, 'e');
  assert.equal(r.run.hit, false);
});

test('where the cache goes: FORGE_CODE_CACHE, XDG_CACHE_HOME, else ~/.cache; a folder per Node and CPU', () => {
  const key = `v8-${process.version}-${process.arch}`;
  assert.equal(codeCacheDir({ FORGE_CODE_CACHE: '/x' }), join('/x', key));
  assert.equal(codeCacheDir({ FORGE_CODE_CACHE: 'off', XDG_CACHE_HOME: '/y' }), null);
  assert.equal(codeCacheDir({ XDG_CACHE_HOME: '/y' }), join('/y', 'forge', key));
  assert.match(codeCacheDir({}) ?? '', new RegExp(`/\\.cache/forge/${key.replace(/[.]/g, '\\.')}$`));
  assert.notEqual(cacheFileName('/a/s.cjs', { size: 1, mtimeMs: 2.5, ino: 3 }), cacheFileName('/a/s.cjs', { size: 1, mtimeMs: 2.5, ino: 4 }));
  assert.notEqual(cacheFileName('/a/s.cjs', { size: 1, mtimeMs: 2.5, ino: 3 }), cacheFileName('/b/s.cjs', { size: 1, mtimeMs: 2.5, ino: 3 }));
  assert.match(cacheFileName('/a/s.cjs', { size: 1, mtimeMs: 2.5, ino: 3 }), /^s\.cjs-[0-9a-f]{8}-1-2-3\.cache$/);
});

test('runFastCommand runs only the fast commands, and only when their bundle is there', () => {
  const argv = [process.execPath, 'forge', 'rig', '--simulate', '1'];
  assert.equal(runFastCommand(dir, argv), false, 'rig is not a fast command');
  assert.equal(runFastCommand(dir, [process.execPath, 'forge', 'status']), false, 'no fast/status.cjs here');
  assert.equal(runFastCommand(dir, [process.execPath, 'forge']), false);
});
