// Putting a plan folder on the mount (`submit`). What travels is decided first, and refused
// with the file named when it is not plain data of the plan: a symlink whose target is outside
// the plan folder (a link to ~/.ssh/id_rsa would put the secret on the mount for every host to
// read) or a special file (a FIFO, socket or device, which a copy would block on or never
// finish). A link to a file inside the folder travels as that file. Files are compared and
// copied through handles opened without blocking and checked to be regular files, so nothing
// on either side can hang `submit`.
import { constants, createWriteStream } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { isInside, readMountBytes } from '../core/mountRead.ts';

export type Placement = 'in-place' | 'copied' | 'updated' | 'unchanged';

export interface PlanFile {
  /** Path inside the plan folder, as it will be on the mount. */
  rel: string;
  /** The regular file to copy from (a symlink's target inside the folder). */
  source: string;
}

/** Bytes read to compare two files; larger ones count as different and are copied. */
const COMPARE_BYTES = 64 * 1024 * 1024;

function kindOf(st: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** A symlink at abs: the file it stands for, nothing (a folder or a dangling link, left out), or a problem. */
async function followLink(abs: string, root: string): Promise<{ source: string } | { problem: string } | null> {
  const target = await realpath(abs).catch(() => null);
  if (target === null) return null; // dangling: nothing to copy
  if (!isInside(target, root)) {
    return { problem: `${abs}: a symlink to ${target}, outside the plan folder; submit copies only what is inside the plan folder onto the mount, so copy the file into the folder or remove the link` };
  }
  const st = await stat(target).catch(() => null);
  if (st === null || st.isDirectory()) return null; // gone meanwhile; or a folder, left out (no loops)
  if (!st.isFile()) return { problem: `${abs}: a symlink to ${kindOf(st)} (${target}); a plan folder holds only files and folders, so remove it` };
  return { source: target };
}

/** Files of a plan folder that travel to the mount (not batches/, node_modules or dotfiles), and what may not travel. */
export async function listPlanFiles(dir: string): Promise<{ files: PlanFile[]; problems: string[] }> {
  const files: PlanFile[] = [];
  const problems: string[] = [];
  const root = await realpath(dir);
  const walk = async (rel: string) => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.') || e.name === 'node_modules' || (rel === '' && e.name === 'batches')) continue;
      const relPath = rel ? join(rel, e.name) : e.name;
      const abs = join(dir, relPath);
      if (e.isDirectory()) await walk(relPath);
      else if (e.isFile()) files.push({ rel: relPath, source: abs });
      else if (e.isSymbolicLink()) {
        const link = await followLink(abs, root);
        if (link && 'problem' in link) problems.push(link.problem);
        else if (link) files.push({ rel: relPath, source: link.source });
      } else {
        problems.push(`${abs}: ${kindOf(await lstat(abs))}, not a regular file; a plan folder holds only files and folders, so remove it`);
      }
    }
  };
  await walk('');
  return { files, problems };
}

/** True when both are regular files with the same bytes; anything unreadable, special or huge counts as different. */
export async function sameContent(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([a, b].map((p) => readMountBytes(p, { maxBytes: COMPARE_BYTES, followSymlinks: true })));
  return x!.ok && y!.ok && x!.bytes.equals(y!.bytes);
}

/** True when both paths lead to the same file or folder. */
export async function samePath(a: string, b: string): Promise<boolean> {
  try {
    return (await realpath(a)) === (await realpath(b));
  } catch {
    return false;
  }
}

async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isDirectory() ?? false;
}

function tempName(folder: string, name: string): string {
  return join(folder, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Copies a regular file (refusing anything else, without blocking on it) to a new file, keeping its mode. */
async function copyRegularFile(src: string, dest: string): Promise<void> {
  const handle = await open(src, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new Error(`${src} is ${kindOf(st)}, not a regular file, so it was not copied`);
    await pipeline(handle.createReadStream({ autoClose: false, start: 0 }), createWriteStream(dest, { flags: 'wx' }));
    await chmod(dest, st.mode & 0o7777); // executable scripts stay executable
  } finally {
    await handle.close();
  }
}

/** Copies one file next to its target, then renames it in: a reader sees the old file or the new one. */
async function copyFileAtomic(src: string, dest: string): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = tempName(dirname(dest), basename(dest));
  try {
    await copyRegularFile(src, tmp);
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Puts the plan's files at dest. A new plan is copied into a temporary folder and renamed in
 * whole, so the brain never sees half a plan. The same plan (same plan.md) gets its changed
 * files updated one by one; a different plan of the same name is refused before this runs.
 */
export async function placePlan(files: PlanFile[], src: string, dest: string, plansDir: string): Promise<{ placement: Placement; updated: string[] }> {
  if (await samePath(src, dest)) return { placement: 'in-place', updated: [] };
  if (!(await isDir(dest))) {
    const tmp = tempName(plansDir, basename(dest));
    try {
      for (const f of files) {
        await mkdir(dirname(join(tmp, f.rel)), { recursive: true });
        await copyRegularFile(f.source, join(tmp, f.rel));
      }
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    return { placement: 'copied', updated: files.map((f) => f.rel) };
  }
  const updated: string[] = [];
  for (const f of files) {
    if (await sameContent(f.source, join(dest, f.rel))) continue;
    await copyFileAtomic(f.source, join(dest, f.rel));
    updated.push(f.rel);
  }
  return { placement: updated.length ? 'updated' : 'unchanged', updated };
}
