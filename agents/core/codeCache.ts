// Runs a CommonJS bundle with V8's code cache, so a short command (forge status, submit, watch,
// signal, logs) skips compiling its half-megabyte of JavaScript on every start: the first run
// compiles it and, at exit, saves the compiled code of every function that ran; later runs
// load that instead. Node 20 has no module compile cache for ES modules
// (module.enableCompileCache came in Node 22), hence CommonJS and vm.Script's cachedData.
//
// The cache is this user's, on this host: $FORGE_CODE_CACHE, else $XDG_CACHE_HOME/forge, else
// ~/.cache/forge, in a folder per Node version and CPU (a Pi and the rig sharing a release
// on the mount never overwrite each other's). FORGE_CODE_CACHE=off turns it off. It is never
// written on the mount. A file is named after the bundle's folder, size, mtime and inode as well
// as its name: V8 checks a cache against its source's length only, so a rebuilt bundle must never
// meet an old bundle's cache; and a new build drops only the caches of its own folder, so two
// checkouts (or a release and a checkout) used by turns keep a cache each instead of compiling
// at every start. Anything wrong with the cache (missing, unwritable, refused by V8) costs only
// the compile it would have saved.
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** A cache larger than this is not read (a bundle's cache is about its own size). */
const MAX_CACHE_BYTES = 64 * 1024 * 1024;

/** Where this user's caches for this Node and CPU go; null when turned off or there is no home. */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const set = env.FORGE_CODE_CACHE;
  if (set === 'off' || set === '0') return null;
  let base = set || (env.XDG_CACHE_HOME ? join(env.XDG_CACHE_HOME, 'forge') : '');
  if (!base) {
    let home = '';
    try {
      home = homedir();
    } catch {
      return null; // a service user without a home: no cache
    }
    if (!home || home === '/') return null;
    base = join(home, '.cache', 'forge');
  }
  return join(base, `v8-${process.version}-${process.arch}`);
}

/** The cache file's name for this exact bundle file (its name and folder, size, mtime and inode). */
export function cacheFileName(bundle: string, st: { size: number; mtimeMs: number; ino: number }): string {
  return `${cachePrefix(bundle)}${st.size}-${Math.trunc(st.mtimeMs)}-${st.ino}.cache`;
}

/** What every cache of a bundle at this path starts with: its name and a hash of its folder (FNV-1a: no crypto to load). */
function cachePrefix(bundle: string): string {
  let h = 0x811c9dc5;
  for (const c of dirname(bundle)) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return `${basename(bundle)}-${h.toString(16).padStart(8, '0')}-`;
}

function readCache(file: string): Buffer | undefined {
  try {
    const fd = openSync(file, 'r');
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.size > MAX_CACHE_BYTES) return undefined;
      return readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** Caches of a bundle name kept for other folders than the one being saved: checkouts used by turns. */
const OTHER_FOLDERS_KEPT = 3;

/**
 * Saves the cache whole (a temp file renamed); drops the caches of earlier builds at the same
 * path, and of other folders all but the OTHER_FOLDERS_KEPT latest saved (a removed checkout's,
 * a test's temporary build's).
 */
function writeCache(dir: string, name: string, bundleName: string, prefix: string, data: Buffer): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, join(dir, name));
    const others: Array<{ file: string; at: number }> = [];
    for (const old of readdirSync(dir)) {
      if (old === name || !old.startsWith(`${bundleName}-`) || !old.endsWith('.cache')) continue;
      const file = join(dir, old);
      if (old.startsWith(prefix)) unlinkSync(file);
      else others.push({ file, at: statSync(file).mtimeMs });
    }
    for (const o of others.sort((a, b) => b.at - a.at).slice(OTHER_FOLDERS_KEPT)) unlinkSync(o.file);
  } catch {
    // Unwritable, full or raced by another run: the next run compiles again.
  }
}

export interface CodeCacheRun {
  /** The cache file used or to be written; null without a cache. */
  cacheFile: string | null;
  /** Whether V8 took the cached code (false: compiled from source, and saved at exit). */
  hit: boolean;
}

/**
 * Loads `bundle` (CommonJS, requiring only Node's own modules) as node would `require` it, with
 * its code from the cache when there is one. Its code runs now; its asynchronous work goes on
 * after this returns.
 */
export function runWithCodeCache(bundle: string, cacheDir: string | null = codeCacheDir()): CodeCacheRun {
  const source = readFileSync(bundle, 'utf8');
  let cacheFile: string | null = null;
  let cachedData: Buffer | undefined;
  if (cacheDir) {
    cacheFile = join(cacheDir, cacheFileName(bundle, statSync(bundle)));
    cachedData = readCache(cacheFile);
  }
  // CommonJS's own wrapper, on the first line, so line numbers in stack traces stay the bundle's.
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n})`;
  const script = new Script(wrapped, { filename: bundle, cachedData });
  const hit = cachedData !== undefined && !script.cachedDataRejected;
  if (cacheDir && cacheFile && !hit) {
    const name = basename(cacheFile);
    // At exit, so the cache holds every function this run compiled, not just the top level.
    process.once('exit', () => writeCache(cacheDir, name, basename(bundle), cachePrefix(bundle), script.createCachedData()));
  }
  const fn = script.runInThisContext() as (exports: object, require: NodeRequire, module: object, filename: string, dirname: string) => void;
  const module = { exports: {}, filename: bundle, id: bundle, loaded: false };
  fn.call(module.exports, module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  return { cacheFile, hit };
}

/** The commands that have a bundle of their own under <cli>/fast/ (scripts/<name>.ts). */
export const FAST_COMMANDS = ['status', 'submit', 'watch', 'signal', 'logs', 'ask'] as const;

/**
 * `forge <command> ...` from <cliDir>/fast/<command>.cjs when the command is one of
 * FAST_COMMANDS and its bundle is there: process.argv becomes [node, forge, ...args], as the
 * script expects, and true is returned. False (nothing done) for any other command.
 */
export function runFastCommand(cliDir: string, argv: string[] = process.argv): boolean {
  const command = argv[2];
  if (!(FAST_COMMANDS as readonly string[]).includes(command ?? '')) return false;
  const bundle = join(cliDir, 'fast', `${command}.cjs`);
  try {
    if (!statSync(bundle).isFile()) return false;
  } catch {
    return false;
  }
  process.argv = [argv[0]!, argv[1]!, ...argv.slice(3)];
  runWithCodeCache(bundle);
  return true;
}
