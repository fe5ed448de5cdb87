// logs/spool/: a file per writer, merged by one reader. O_APPEND is not atomic between NFS
// clients (each client computes the end of the file itself), so two hosts appending to one
// file lose or cut lines. Instead each process appends only to a file of its own, which is
// safe (one client knows where its own file ends), and the brain, the one writer of
// logs/brain_decisions.log and logs/training_samples.jsonl, appends what they hold there
// (agents/brain/logMerge.ts):
//
//   logs/spool/decisions/<who>.<host>.<pid>.log   decision lines of the launcher, an agent, doctor
//   logs/spool/samples/<task>.<pid>.<hex>.jsonl   one training sample per file, written whole by rename
//   brain/spool_offsets.json                      how far each decisions file is merged
//
// This module holds what writers and readers share: the names, the offsets record, a bounded
// read from an offset, and the split of what was read into whole lines.
import { constants } from 'node:fs';
import { mkdir, open, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as z from './zod.ts';
import { isTempName, writeFileAtomic } from './atomic.ts';
import { errorCode, errorMessage, isGone } from './errors.ts';
import { type JsonFileRead, readJsonFile } from './mountJson.ts';
import { type MountReadFailure, kindOf, readMountFile } from './mountRead.ts';
import type { MountPaths } from './paths.ts';

/**
 * Longest line taken from a spool file, in bytes. formatDecision's longest line is about 2,900
 * characters (a 2,000-character reason, four 200-character fields, the time), at most 4 bytes
 * each: under 12 KiB. A longer line was not written by formatDecision and is cut here.
 */
export const MAX_SPOOL_LINE_BYTES = 16 * 1024;

/** Most bytes read from one spool file in one go: 1 MiB, thousands of lines. */
export const SPOOL_READ_BYTES = 1024 * 1024;

/** One part of a spool file's name: only [A-Za-z0-9._-], no leading dot, at most `max` characters. */
export function spoolPart(text: string, max = 64): string {
  const safe = text.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, max);
  return safe === '' ? '_' : safe;
}

/** The decisions spool file's name of one writer process: `<who>.<host>.<pid>.log`. */
export function decisionSpoolName(who: string, host: string = hostname(), pid: number = process.pid): string {
  return `${spoolPart(who)}.${spoolPart(host)}.${pid}.log`;
}

export function decisionSpoolFile(paths: MountPaths, who: string, host?: string, pid?: number): string {
  return join(paths.spoolDecisions, decisionSpoolName(who, host, pid));
}

/**
 * The pid of a decisions spool file's writer when it ran on `host` (a pid means something only
 * on its own host); null for another host's file or a name decisionSpoolName did not make.
 */
export function spoolWriterPidOn(name: string, host: string = hostname()): number | null {
  const m = /\.(\d{1,10})\.log$/.exec(name);
  if (!m) return null;
  return name.slice(0, m.index).endsWith(`.${spoolPart(host)}`) ? Number(m[1]) : null;
}

/** A training sample file's name: `<task>.<pid>.<hex>.jsonl`, unique without asking anyone. */
export function sampleSpoolName(taskId: string, pid: number = process.pid, random: string = randomBytes(6).toString('hex')): string {
  return `${spoolPart(taskId, 120)}.${pid}.${random}.jsonl`;
}

/**
 * Writes `text` (whole lines) as a new file in logs/spool/samples/: a temporary name, then a
 * rename, so the brain sees the whole file or none of it. Not fsynced: on NFS an fsync is a
 * round trip to the server per sample, and close() already sends the data before the rename;
 * a power cut can cost the sample (a short file fails the brain's check and is quarantined),
 * never a task's result. Returns the file's path.
 */
export async function writeSampleFile(dir: string, taskId: string, text: string): Promise<string> {
  const file = join(dir, sampleSpoolName(taskId));
  try {
    await writeFileAtomic(file, text, { sync: false });
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
    // A mount made before the spool existed: the folder is made once.
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(file, text, { sync: false });
  }
  return file;
}

// ---- the offsets record ----

const SpoolOffsetsSchema = z.object({
  /**
   * Per decisions file: bytes merged, and what tells the file from a new one of the same name:
   * its inode and its first bytes (hex; a file system may give a new file a freed inode).
   */
  decisions: z.record(z.string(), z.object({ offset: z.number().check(z.int(), z.nonnegative()), ino: z.string(), head: z._default(z.string(), '') })),
  /** Sample files appended to training_samples.jsonl whose removal is not yet confirmed. */
  samples_merged: z.array(z.string()),
});
export type SpoolOffsets = z.infer<typeof SpoolOffsetsSchema>;
export type SpoolMark = SpoolOffsets['decisions'][string];

export function emptySpoolOffsets(): SpoolOffsets {
  return { decisions: {}, samples_merged: [] };
}

/** brain/spool_offsets.json: 8 MiB, far above one entry per spool file. */
const MAX_OFFSETS_BYTES = 8 * 1024 * 1024;

export function readSpoolOffsets(paths: MountPaths): Promise<JsonFileRead<SpoolOffsets>> {
  return readJsonFile(paths.spoolOffsets, SpoolOffsetsSchema, 'a spool offsets record', { maxBytes: MAX_OFFSETS_BYTES });
}

// ---- listing and reading ----

export interface SpoolListing {
  /** Regular files, sorted; temporary names (a writer mid-rename) left out. */
  files: string[];
  /** Entries that are not regular files: a directory, FIFO, symlink, socket or device. */
  odd: Array<{ name: string; kind: string }>;
}

function direntKind(e: { isDirectory(): boolean; isFIFO(): boolean; isSymbolicLink(): boolean; isSocket(): boolean }): string {
  if (e.isDirectory()) return 'a directory';
  if (e.isFIFO()) return 'a FIFO';
  if (e.isSymbolicLink()) return 'a symlink';
  if (e.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** A spool folder's entries; a missing folder is empty. Nothing is opened. */
export async function listSpool(dir: string): Promise<SpoolListing> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isGone(err)) return { files: [], odd: [] };
    throw err;
  }
  const out: SpoolListing = { files: [], odd: [] };
  for (const e of entries) {
    if (isTempName(e.name)) continue;
    if (e.isFile()) out.files.push(e.name);
    else out.odd.push({ name: e.name, kind: direntKind(e) });
  }
  out.files.sort();
  out.odd.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

/** How many of a spool file's first bytes its mark keeps. */
const HEAD_BYTES = 32;

export type SpoolRead =
  /** bytes: read from `start` to the end of the file or maxBytes; ino, size, head (first bytes): the file as opened. */
  | { ok: true; bytes: Buffer; start: number; ino: string; size: number; head: Buffer }
  | { ok: false; why: MountReadFailure; detail: string };

/** The mark of a file read (`r`) and merged up to byte `end`: where the next read starts. */
export function markOf(r: Extract<SpoolRead, { ok: true }>, end: number): SpoolMark {
  return { offset: end, ino: r.ino, head: r.head.subarray(0, Math.min(HEAD_BYTES, end)).toString('hex') };
}

/**
 * Reads a spool file from where its reader stopped (`mark`) to its end, at most maxBytes. A file
 * that is not the one marked (another inode or other first bytes: removed and written again)
 * or shorter than the mark (cut by hand) is read from its start. Opened without blocking and without following a symlink, so
 * a FIFO or a link in the folder costs one open, never a hang; anything but a regular file is
 * refused with a reason.
 */
export async function readSpoolFrom(path: string, mark: SpoolMark | undefined, maxBytes: number = SPOOL_READ_BYTES): Promise<SpoolRead> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    if (isGone(err)) return { ok: false, why: 'missing', detail: `${path} does not exist` };
    const code = errorCode(err);
    if (code === 'ELOOP') return { ok: false, why: 'not_a_file', detail: `${path} is a symlink, not a regular file` };
    if (code === 'ENXIO') return { ok: false, why: 'not_a_file', detail: `${path} is a socket or a device, not a regular file` };
    return { ok: false, why: 'unreadable', detail: `${path} cannot be opened (${code ?? errorMessage(err)})` };
  }
  try {
    const st = await handle.stat({ bigint: true });
    if (!st.isFile()) return { ok: false, why: 'not_a_file', detail: `${path} is ${kindOf(Number(st.mode))}, not a regular file` };
    const ino = st.ino.toString();
    const size = Number(st.size);
    let start = 0;
    let head: Buffer | null = null;
    // allocUnsafe: only the bytes a read filled are ever looked at (subarray to bytesRead).
    if (mark && mark.ino === ino && mark.offset <= size) {
      head = Buffer.allocUnsafe(Math.min(HEAD_BYTES, size));
      head = head.subarray(0, (await handle.read(head, 0, head.length, 0)).bytesRead);
      const want = Buffer.from(mark.head, 'hex');
      if (head.length >= want.length && head.subarray(0, want.length).equals(want)) start = mark.offset;
    }
    // Read to the end of the file, not to the size the stat gave (it may be stale on NFS).
    let buf = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(size - start, 0) + 64 * 1024));
    let got = 0;
    while (got < maxBytes) {
      if (got === buf.length) {
        const bigger = Buffer.allocUnsafe(Math.min(maxBytes, buf.length * 2));
        buf.copy(bigger, 0, 0, got);
        buf = bigger;
      }
      const { bytesRead } = await handle.read(buf, got, buf.length - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const bytes = buf.subarray(0, got);
    if (start === 0) head = Buffer.from(bytes.subarray(0, HEAD_BYTES));
    return { ok: true, bytes, start, ino, size, head: head ?? Buffer.alloc(0) };
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ESTALE') return { ok: false, why: 'missing', detail: `${path} was removed while being read` };
    if (code === 'EISDIR') return { ok: false, why: 'not_a_file', detail: `${path} is a directory, not a regular file` };
    return { ok: false, why: 'unreadable', detail: `${path} cannot be read (${code ?? errorMessage(err)})` };
  } finally {
    await handle.close().catch(() => {});
  }
}

// ---- lines (pure) ----

/**
 * The whole lines at the front of `buf` and how many bytes they take. The unterminated tail
 * is left for later: a writer may be in the middle of it, or, on NFS, the reader saw a stale
 * size and read half a line. Empty lines are dropped; a line over maxLineBytes is cut and
 * ends with '…'. A tail longer than maxLineBytes is no line being written: it is taken too,
 * cut, so one broken file cannot stop its own merging.
 */
export function completeLines(buf: Buffer, maxLineBytes: number = MAX_SPOOL_LINE_BYTES): { lines: string[]; consumed: number } {
  const lines: string[] = [];
  const take = (raw: Buffer) => {
    if (raw.length === 0) return;
    lines.push(raw.length > maxLineBytes ? raw.subarray(0, maxLineBytes).toString('utf8') + '…' : raw.toString('utf8'));
  };
  let consumed = buf.lastIndexOf(0x0a) + 1;
  for (let at = 0; at < consumed; ) {
    const nl = buf.indexOf(0x0a, at);
    take(buf.subarray(at, nl));
    at = nl + 1;
  }
  if (buf.length - consumed > maxLineBytes) {
    take(buf.subarray(consumed));
    consumed = buf.length;
  }
  return { lines, consumed };
}

/** How far back in the merged log a spool file's lines are looked for (lines). */
const OVERLAP_WINDOW = 10_000;

/**
 * A spool file's unmerged lines less those already in the merged log: the brain appends a
 * round's lines before it records the offsets, so a reader between the two (or after a brain
 * killed between them) finds the first lines of a tail at the end of the log too. The longest
 * run of `tail`'s first lines found in the log's last lines is dropped. Pure.
 */
export function dropMerged(logLines: readonly string[], tail: readonly string[]): string[] {
  if (tail.length === 0) return [];
  const from = Math.max(0, logLines.length - OVERLAP_WINDOW);
  let best = 0;
  for (let i = logLines.length - 1; i >= from; i--) {
    if (logLines[i] !== tail[0]) continue;
    let n = 0;
    while (n < tail.length && i + n < logLines.length && logLines[i + n] === tail[n]) n++;
    best = Math.max(best, n);
  }
  return tail.slice(best);
}

/** The merged log is read whole by readDecisionLines: at most this many bytes. */
const MAX_LOG_READ_BYTES = 1024 * 1024 * 1024;

/**
 * Every decision line there is, whether or not a brain runs to merge the spool: the lines of
 * logs/brain_decisions.log, then, per spool file, its whole lines beyond the recorded offset
 * that the log does not already end with. For readers that need every line (the chaos
 * checker, the GPU check). A file that cannot be read (missing, a FIFO) gives no lines.
 */
export async function readDecisionLines(paths: MountPaths): Promise<string[]> {
  // Offsets first: the brain appends before it records, so every line is in the log as read
  // next or beyond the offsets as read here (dropMerged removes the few that are in both).
  const offsets = await readSpoolOffsets(paths);
  const marks = offsets.ok ? offsets.value.decisions : {};
  const log = await readMountFile(paths.decisionLog, { maxBytes: MAX_LOG_READ_BYTES });
  const merged = log.ok ? log.text.split('\n').filter((l) => l !== '') : [];
  const out = [...merged];
  for (const name of (await listSpool(paths.spoolDecisions)).files) {
    const r = await readSpoolFrom(join(paths.spoolDecisions, name), marks[name], 64 * SPOOL_READ_BYTES);
    if (!r.ok) continue;
    out.push(...dropMerged(merged, completeLines(r.bytes).lines));
  }
  return out;
}
