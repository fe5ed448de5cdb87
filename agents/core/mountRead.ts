// The one way to read a file from the mount. Everything there is untrusted: a FIFO where a
// task file should be blocks a plain readFile for ever, a symlink to /dev/zero never ends, a
// directory throws EISDIR, a 2 GB file eats the reader's memory. This opens without blocking,
// checks what it opened (a regular file of a sane size), and reads at most that many bytes,
// so one bad file costs its reader a few system calls and a clear reason, never a hang.
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { sep } from 'node:path';
import { monotonicMs } from './clock.ts';
import { errorCode, errorMessage, isGone } from './errors.ts';

export type MountReadFailure =
  /** Nothing there (ENOENT, or ESTALE: another NFS client removed it). */
  | 'missing'
  /** There, but not a regular file: a directory, FIFO, socket, device, or a symlink where none may be. */
  | 'not_a_file'
  /** A regular file larger than the reader allows. */
  | 'too_big'
  /** There, but it cannot be opened or read: permissions (EACCES), I/O errors (EIO). */
  | 'unreadable';

export interface MountFail {
  ok: false;
  why: MountReadFailure;
  detail: string;
  /** The error code behind it (ENOENT, ESTALE, EIO, ...), when there was one. */
  code?: string;
  /** Set when it was read more than once (see RetryOptions): how often, and over how long. */
  retried?: { tries: number; forMs: number };
}
export type MountRead = { ok: true; text: string; size: number } | MountFail;
export type MountBytes = { ok: true; bytes: Buffer } | MountFail;

export interface MountReadOptions {
  /** Bytes; a larger file is refused as too_big. */
  maxBytes: number;
  /** Follow a symlink to a regular file (plans and manifests a person links in); default false. */
  followSymlinks?: boolean;
  /** Read again, for a while, what failed for a reason that passes on a shared mount (see RetryOptions). Default: one read. */
  retry?: RetryOptions;
}

/**
 * Errors of a network mount that pass: the file was replaced through another client and this
 * client's handle went stale (ESTALE), the server or the network failed one request (EIO).
 * A file that is not there (ENOENT) may only not be visible yet through this client's cache:
 * retried too when the caller knows it should be there (missingToo).
 */
const TRANSIENT_CODES: ReadonlySet<string> = new Set(['ESTALE', 'EIO']);

/** Single reads give up after this long (ms): a blip of the mount is over by then, and the reader is not held up for long. */
export const READ_GIVE_UP_MS = 2000;

export interface RetryOptions {
  /** Stop reading again after this long, in ms on this process's clock (default READ_GIVE_UP_MS). */
  giveUpMs?: number;
  /** Pause before the first read again, doubled before each next one up to 500 ms (default 50 ms). */
  pauseMs?: number;
  /** Read again a file that is missing too: for a file that should be there (listed a moment ago, written by a finished task). */
  missingToo?: boolean;
  /** This process's clock (default: monotonic) and sleep: tests inject their own. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Whether a failed read may read well in a moment (see TRANSIENT_CODES). */
export function isTransientFailure(r: MountFail, missingToo = false): boolean {
  return (r.code !== undefined && TRANSIENT_CODES.has(r.code)) || (missingToo && r.why === 'missing');
}

/**
 * Calls read until it succeeds, fails for a lasting reason, or o.giveUpMs has passed on this
 * process's clock; a few tries, with growing pauses. The last failure says how often and how
 * long it was tried (detail and `retried`), so a caller's message can say it gave up.
 */
export async function retryTransient<R extends { ok: true } | MountFail>(read: () => Promise<R>, o: RetryOptions = {}): Promise<R> {
  const now = o.now ?? monotonicMs;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const giveUpMs = o.giveUpMs ?? READ_GIVE_UP_MS;
  const start = now();
  let pause = o.pauseMs ?? 50;
  for (let tries = 1; ; tries++) {
    const r = await read();
    if (r.ok || !isTransientFailure(r as MountFail, o.missingToo)) return r;
    const forMs = now() - start;
    if (forMs >= giveUpMs) {
      if (tries === 1) return r;
      const f = r as MountFail;
      return { ...f, detail: `${f.detail} (failed ${tries} reads over ${(forMs / 1000).toFixed(1)} s; gave up)`, retried: { tries, forMs } } as R;
    }
    await sleep(Math.max(0, Math.min(pause, giveUpMs - forMs)));
    pause = Math.min(pause * 2, 500);
  }
}

/** 1 MiB: far above any task, heartbeat, signal or record the rig writes itself. */
export const MAX_RECORD_BYTES = 1024 * 1024;

/** What a file of this mode is, in words: 'a directory', 'a FIFO', ... */
export function kindOf(mode: number): string {
  const t = mode & constants.S_IFMT;
  if (t === constants.S_IFDIR) return 'a directory';
  if (t === constants.S_IFIFO) return 'a FIFO';
  if (t === constants.S_IFSOCK) return 'a socket';
  if (t === constants.S_IFCHR) return 'a character device';
  if (t === constants.S_IFBLK) return 'a block device';
  if (t === constants.S_IFLNK) return 'a symlink';
  return 'not a regular file';
}

/** Reads a regular file of at most maxBytes as UTF-8; anything else is a failure with a reason, never a throw or a hang. */
export async function readMountFile(path: string, o: MountReadOptions): Promise<MountRead> {
  const r = await readMountBytes(path, o);
  return r.ok ? { ok: true, text: r.bytes.toString('utf8'), size: r.bytes.length } : r;
}

/** readMountFile's bytes, for files that need not be text (comparing a plan's files). */
export async function readMountBytes(path: string, o: MountReadOptions): Promise<MountBytes> {
  return o.retry ? retryTransient(() => readMountBytesOnce(path, o), o.retry) : readMountBytesOnce(path, o);
}

async function readMountBytesOnce(path: string, o: MountReadOptions): Promise<MountBytes> {
  // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
  // O_NOFOLLOW: a symlink fails with ELOOP instead of leading anywhere on the host.
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (o.followSymlinks ? 0 : constants.O_NOFOLLOW);
  let handle;
  try {
    handle = await open(path, flags);
  } catch (err) {
    const code = errorCode(err);
    if (isGone(err)) return { ok: false, why: 'missing', detail: `${path} does not exist`, code };
    if (code === 'ELOOP') return { ok: false, why: 'not_a_file', detail: `${path} is a symlink, not a regular file`, code };
    if (code === 'ENXIO') return { ok: false, why: 'not_a_file', detail: `${path} is a socket or a device, not a regular file`, code };
    return { ok: false, why: 'unreadable', detail: `${path} cannot be opened (${code ?? errorMessage(err)})`, code };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { ok: false, why: 'not_a_file', detail: `${path} is ${kindOf(st.mode)}, not a regular file` };
    if (st.size > o.maxBytes) return { ok: false, why: 'too_big', detail: `${path} is ${st.size} bytes, over the limit of ${o.maxBytes}` };
    // Read to the end of the file, not to the size the stat gave: an NFS client's cached size
    // may be stale, and a file that grew since is read whole (the text would otherwise be cut
    // at the old size, a torn read made here). One byte past the limit catches a file over it.
    const cap = o.maxBytes + 1;
    let buf = Buffer.alloc(Math.min(cap, Math.max(st.size, 0) + 1));
    let got = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got < buf.length) continue;
      if (buf.length >= cap) break;
      const bigger = Buffer.alloc(Math.min(cap, buf.length * 2));
      buf.copy(bigger, 0, 0, got);
      buf = bigger;
    }
    if (got > o.maxBytes) return { ok: false, why: 'too_big', detail: `${path} grew past the limit of ${o.maxBytes} bytes while being read` };
    return { ok: true, bytes: buf.subarray(0, got) };
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ESTALE') return { ok: false, why: 'missing', detail: `${path} was removed while being read`, code };
    if (code === 'EISDIR') return { ok: false, why: 'not_a_file', detail: `${path} is a directory, not a regular file`, code };
    return { ok: false, why: 'unreadable', detail: `${path} cannot be read (${code ?? errorMessage(err)})`, code };
  } finally {
    await handle.close().catch(() => {});
  }
}

/** Whether path is folder itself or inside it (both absolute and resolved). */
export function isInside(path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder.endsWith(sep) ? folder : folder + sep);
}

/**
 * Where path leads when it belongs to `folder` (plan.md to its plan folder, a foreach manifest
 * to its batch folder): every symlink, in the name or on the way to it, is resolved, and the
 * result must stay inside the folder (itself resolved). A link to /dev/zero or to a secret
 * elsewhere on the host is refused with a reason, so nothing outside the folder is ever read
 * (and no part of it quoted in an error message).
 */
export async function resolveInside(path: string, folder: string): Promise<{ ok: true; target: string } | MountFail> {
  let target: string;
  let root: string;
  try {
    [target, root] = await Promise.all([realpath(path), realpath(folder)]);
  } catch (err) {
    const code = errorCode(err);
    if (isGone(err)) return { ok: false, why: 'missing', detail: `${path} does not exist (or is a symlink to nothing)`, code };
    if (code === 'ELOOP') return { ok: false, why: 'not_a_file', detail: `${path} is a loop of symlinks`, code };
    return { ok: false, why: 'unreadable', detail: `${path} cannot be resolved (${code ?? errorMessage(err)})`, code };
  }
  if (!isInside(target, root)) {
    return { ok: false, why: 'not_a_file', detail: `${path} leads outside ${folder} (to ${target}) through a symlink; only links to files inside ${folder} are followed` };
  }
  return { ok: true, target };
}

/** readMountFile of a file that belongs to `folder` (see resolveInside): a regular file inside it, or a reason. */
export async function readMountFileInside(path: string, folder: string, o: { maxBytes: number }): Promise<MountRead> {
  const inside = await resolveInside(path, folder);
  if (!inside.ok) return inside;
  const r = await readMountFile(inside.target, { maxBytes: o.maxBytes, followSymlinks: false });
  // Reported under the name the caller knows, not the resolved one.
  return r.ok || inside.target === path ? r : { ...r, detail: r.detail.split(inside.target).join(path) };
}
