// The doorbell's file format (core/doorbell.ts): a fixed-size JSON record of a writer's last
// task moves, its sequence number and where it runs; pure encoding, decoding and comparison,
// and the key that says where a process runs.
import { readFileSync, statSync } from 'node:fs';
import { type TaskFolder, isSafeName } from './paths.ts';

/** Size of every doorbell file: constant, so a reader's cached size never cuts a read short. */
export const BELL_BYTES = 16 * 1024;

/**
 * The moves a bell names: where a task went. Not claims (into processing/): nothing waits on
 * them, and a claim is on the way from queue to worker, which should not pay for a write.
 */
export const BELL_FOLDERS = ['queue', 'complete', 'failed'] as const satisfies readonly TaskFolder[];
export type BellFolder = (typeof BELL_FOLDERS)[number];

export interface BellEvent {
  /** The writer's sequence number of this move. */
  n: number;
  to: BellFolder;
  id: string;
}

/** What one bell file holds. */
export interface BellRecord {
  writer: string;
  /** Where the writer runs, as localKey() gives it; absent when unknown (then readers always read it). */
  key?: string;
  /** The sequence number of the last move (0: none yet). */
  n: number;
  /** The last moves, oldest first, as many as fit. */
  events: BellEvent[];
}

/** Each move's JSON, made once: a writer encodes its whole ring on every move it rings. */
const eventJson = new WeakMap<BellEvent, string>();

function jsonOf(e: BellEvent): string {
  let j = eventJson.get(e);
  if (j === undefined) {
    j = JSON.stringify([e.n, e.to, e.id]);
    eventJson.set(e, j);
  }
  return j;
}

/** Pure: the bell's bytes: JSON, padded with newlines to BELL_BYTES; the oldest moves are left out so that it fits. */
export function encodeBell(rec: BellRecord): Buffer {
  const head = `{"w":${JSON.stringify(rec.writer)},"n":${rec.n},${rec.key ? `"k":${JSON.stringify(rec.key)},` : ''}"e":[`;
  const tail = ']}';
  // The newest moves that fit, counted from the end (each but the first after a comma).
  let room = BELL_BYTES - Buffer.byteLength(head) - tail.length;
  let from = rec.events.length;
  while (from > 0) {
    const bytes = Buffer.byteLength(jsonOf(rec.events[from - 1]!)) + (from < rec.events.length ? 1 : 0);
    if (bytes > room) break;
    room -= bytes;
    from -= 1;
  }
  const out = Buffer.alloc(BELL_BYTES, 0x0a);
  out.write(head + rec.events.slice(from).map(jsonOf).join(',') + tail);
  return out;
}

/** Pure: a bell's content read back, or null when it is not one (torn, foreign, garbage). Only safe task ids survive. */
export function decodeBell(text: string): BellRecord | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!raw || typeof raw !== 'object') return null;
  const { w, n, k, e } = raw as { w?: unknown; n?: unknown; k?: unknown; e?: unknown };
  if (typeof w !== 'string' || !Number.isSafeInteger(n) || (n as number) < 0 || !Array.isArray(e)) return null;
  const events: BellEvent[] = [];
  for (const item of e) {
    if (!Array.isArray(item) || item.length !== 3) return null;
    const [en, to, id] = item as unknown[];
    if (!Number.isSafeInteger(en) || typeof to !== 'string' || typeof id !== 'string') return null;
    if (!(BELL_FOLDERS as readonly string[]).includes(to) || !isSafeName(id)) continue;
    events.push({ n: en as number, to: to as BellFolder, id });
  }
  return { writer: w, n: n as number, events, ...(typeof k === 'string' && KEY_RE.test(k) ? { key: k } : {}) };
}

const KEY_RE = /^[0-9a-f-]{1,64}:\d{1,20}$/;

/**
 * Where this process runs, for its bell: the kernel's boot id and the device number of the
 * doorbells folder. Two processes with the same key run on one kernel on one mount of the file
 * system, so each gets the other's file events (inotify); on another host, in another mount
 * namespace with its own network-mount client, or in a container with its own mount, the key
 * differs. Null where the boot id cannot be read (not Linux): then bells are always read.
 */
export function localKey(dir: string): string | null {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const key = `${boot}:${statSync(dir).dev}`;
    return KEY_RE.test(key) ? key : null;
  } catch {
    return null;
  }
}

/**
 * Pure: what a reader learns from a bell it last saw at `lastN` (null: never). `fresh` are the
 * moves after lastN; `gap` is true when some were pushed out of the ring (or the writer started
 * again from 0): the reader should look at its folders in full.
 */
export function newEvents(rec: BellRecord, lastN: number | null): { fresh: BellEvent[]; gap: boolean; changed: boolean } {
  // A writer seen for the first time: its ring may name moves this reader has not acted on
  // yet (it started after the writer, or found its bell late); looking again costs lookups only.
  if (lastN === null) return { fresh: rec.events, gap: true, changed: true };
  if (rec.n === lastN) return { fresh: [], gap: false, changed: false };
  if (rec.n < lastN) return { fresh: rec.events, gap: true, changed: true };
  const fresh = rec.events.filter((e) => e.n > lastN);
  const oldest = rec.events[0]?.n ?? rec.n + 1;
  return { fresh, gap: oldest > lastN + 1, changed: true };
}

/** Pure: the sequence number at the head of a bell's text (`{"w":"…","n":N,…`), or null. */
export function bellHeadN(head: string): number | null {
  const m = /^\{"w":"(?:[^"\\]|\\.)*","n":(\d{1,16}),/.exec(head);
  return m ? Number(m[1]) : null;
}

/** Pure: the writer's key at the head of a bell's text (after its sequence number), or null. */
export function bellHeadKey(head: string): string | null {
  const m = /^\{"w":"(?:[^"\\]|\\.)*","n":\d{1,16},"k":"([^"]{1,100})",/.exec(head);
  return m && KEY_RE.test(m[1]!) ? m[1]! : null;
}
