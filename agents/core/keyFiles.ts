// The files a task's input key covers, read and digested (core/inputKey.ts holds the pure key):
//   - the paths it declares in `inputs:` (a folder: every file under it), then
//   - each argument of its command that names an existing file of the plan folder (outside
//     its batches/), so an edited script makes its task run again on resume.
// Only files inside the plan folder or the task's batch folder are read, by their real path:
// a symlink or a placeholder value that leads elsewhere is keyed as `outside`, never opened.
// A FIFO, socket or device is `special`, never opened either.
//
// Bounds, per task: KEY_LIMITS.bytesPerTask of content is hashed, in the order above; a file
// that would go past it is keyed by its size and modification time instead (so a change to it
// is still seen, unless it keeps both). At most KEY_LIMITS.files files are keyed; past that,
// one `truncated` entry. Only the first KEY_LIMITS.argvScanned arguments are looked at.
// The same task and the same files give the same digests whoever reads them (worker or brain).
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { type Config, taskModel } from './config.ts';
import { type FileDigest, inputKey } from './inputKey.ts';
import type { Task } from './task.ts';

export const KEY_LIMITS = {
  /** Bytes of file content hashed per task; past it, size and modification time. */
  bytesPerTask: 64 * 1024 * 1024,
  /** Files keyed per task (declared, under declared folders, and named in the command). */
  files: 256,
  /** Command arguments looked at for file names. */
  argvScanned: 1000,
};

/** Content digests already computed in this process, by real path, size and mtime: a resume keys many tasks that share a script. */
export type DigestMemo = Map<string, string>;

export type KeyTask = Pick<Task, 'type' | 'argv' | 'prompt' | 'output_schema' | 'cwd' | 'batch_path' | 'inputs' | 'model' | 'task_class'>;

interface Walk {
  out: FileDigest[];
  /** Paths keyed so far: a file named twice (declared, under a declared folder, in the command) is keyed once. */
  seen: Set<string>;
  bytesLeft: number;
  roots: string[];
  memo: DigestMemo;
  limits: typeof KEY_LIMITS;
}

const inside = (path: string, root: string) => path === root || path.startsWith(root + sep);

async function realOrNull(path: string): Promise<string | null> {
  return realpath(path).catch(() => null);
}

/** The task's input key, reading its files now. */
export async function taskInputKey(task: KeyTask, config: Pick<Config, 'default_model' | 'gpus'>, memo: DigestMemo = new Map(), limits = KEY_LIMITS): Promise<string> {
  const model = task.task_class === 'llm' || task.type === 'generate' || task.type === 'parse' ? taskModel(task, config) : task.model;
  return inputKey(task, model, await digestTaskFiles(task, memo, limits));
}

/** Every file the key covers, digested, in a fixed order. */
export async function digestTaskFiles(task: KeyTask, memo: DigestMemo = new Map(), limits = KEY_LIMITS): Promise<FileDigest[]> {
  const planRoot = (await realOrNull(task.cwd)) ?? resolve(task.cwd);
  const batchRoot = (await realOrNull(task.batch_path)) ?? resolve(task.batch_path);
  const w: Walk = { out: [], seen: new Set(), bytesLeft: limits.bytesPerTask, roots: [planRoot, batchRoot], memo, limits };
  for (const p of task.inputs ?? []) if (!(await addPath(w, p))) return w.out;
  for (const p of await commandFiles(task, planRoot, limits)) if (!(await addPath(w, p))) return w.out;
  return w.out;
}

/** Arguments that name an existing regular file of the plan folder, outside its batches/ (what tasks write). */
async function commandFiles(task: KeyTask, planRoot: string, limits: typeof KEY_LIMITS): Promise<string[]> {
  const found: string[] = [];
  const batches = join(planRoot, 'batches');
  for (const arg of (task.argv ?? []).slice(0, limits.argvScanned)) {
    if (arg === '' || arg.includes('\0')) continue;
    const path = resolve(task.cwd, arg);
    if (!inside(path, resolve(task.cwd)) || path === resolve(task.cwd)) continue;
    const real = await realOrNull(path);
    if (real === null || !inside(real, planRoot) || inside(real, batches)) continue;
    const st = await stat(real).catch(() => null);
    if (st?.isFile()) found.push(path);
  }
  return found;
}

/** Adds the path's digest (and, for a folder, its files'); false once the file limit is reached. */
async function addPath(w: Walk, path: string): Promise<boolean> {
  if (w.seen.has(path)) return true;
  w.seen.add(path);
  if (w.out.length >= w.limits.files) {
    w.out.push({ path: '', digest: 'truncated' });
    return false;
  }
  const real = await realpath(path).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' || err.code === 'ENOTDIR' ? null : err));
  if (real === null) return push(w, path, 'missing');
  if (real instanceof Error) return push(w, path, `unreadable:${(real as NodeJS.ErrnoException).code ?? 'error'}`);
  if (!w.roots.some((r) => inside(real, r))) return push(w, path, 'outside');
  const st = await stat(real).catch(() => null);
  if (!st) return push(w, path, 'missing');
  if (st.isDirectory()) {
    push(w, path, 'dir');
    const names = (await readdir(real).catch(() => [] as string[])).sort();
    for (const n of names) if (!(await addPath(w, join(path, n)))) return false;
    return true;
  }
  if (!st.isFile()) return push(w, path, 'special');
  const size = st.size;
  const mtime = Math.trunc(st.mtimeMs);
  if (size > w.bytesLeft) return push(w, path, `stat:${size}:${mtime}`);
  w.bytesLeft -= size;
  const memoKey = `${real}\0${size}\0${mtime}`;
  const known = w.memo.get(memoKey);
  if (known) return push(w, path, known);
  const digest = await hashFile(real).catch((err: NodeJS.ErrnoException) => `unreadable:${err.code ?? 'error'}`);
  if (digest.startsWith('sha256:')) w.memo.set(memoKey, digest);
  return push(w, path, digest);
}

function push(w: Walk, path: string, digest: string): true {
  w.out.push({ path, digest });
  return true;
}

/** sha256 of a regular file's content; opened without blocking, so a file swapped for a FIFO meanwhile cannot hang us. */
async function hashFile(file: string): Promise<string> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) return 'special';
    const h = createHash('sha256');
    for await (const chunk of createReadStream('', { fd: fh.fd, autoClose: false, start: 0 })) h.update(chunk as Buffer);
    return `sha256:${h.digest('hex')}`;
  } finally {
    await fh.close();
  }
}
