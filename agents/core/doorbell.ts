// Cross-client wake-up. File events do not cross a network mount, and another client's view
// of a folder (its listing, a file's attributes) can be seconds old, so a process that waited
// for its own listing to show a released or finished task would wait for the cache to lapse.
// What does reach another client at once is a file's content read by open: NFS revalidates
// on open (close-to-open), sshfs reads through. So each writer keeps one small file of fixed
// size, rewritten in place, that names its last moves; readers open and read it every few
// hundred ms and look at exactly the files it names, by name, which is never cached as
// absent. The doorbell only makes things faster: a lost ring (two readers, a torn read, an
// overfull ring) costs the wait for the next periodic listing, never a task.
import { constants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Ticker } from './loop.ts';
import { readMountFile } from './mountRead.ts';
import { type TaskFolder, childPath, isSafeName } from './paths.ts';
import {
  BELL_BYTES, type BellEvent, type BellFolder, type BellRecord, bellHeadKey, bellHeadN, decodeBell, encodeBell, localKey, newEvents,
} from './bellFormat.ts';

export {
  BELL_BYTES, BELL_FOLDERS, type BellEvent, type BellFolder, type BellRecord, bellHeadKey, bellHeadN, decodeBell, encodeBell, localKey, newEvents,
} from './bellFormat.ts';

// In place, never by rename: a rename gives the file a new identity, which a client that
// cached the old name may not see for seconds. O_NONBLOCK|O_NOFOLLOW: a FIFO or symlink put
// in its place fails the write instead of hanging it or writing elsewhere.
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_NONBLOCK | constants.O_NOFOLLOW;

/** How many moves a bell remembers (a ring; what fits in BELL_BYTES of them is written). */
const RING = 400;

/** One writer's bell: `ring()` notes a move and rewrites the file; rings during a write coalesce into one more write. */
export class Doorbell {
  readonly file: string;
  private readonly writer: string;
  private n = 0;
  private events: BellEvent[] = [];
  private writing: Promise<void> | null = null;
  private dirty = false;
  private readonly onError: (err: unknown) => void;
  private readonly key: string | null;

  constructor(dir: string, writer: string, onError: (err: unknown) => void = () => {}) {
    this.writer = writer;
    this.file = childPath(dir, `${writer}.bell`, 'doorbell writer');
    this.onError = onError;
    this.key = localKey(dir);
    // Sequence numbers start from the clock, so a writer's next life never repeats its last numbers
    // (a reader that saw n=5 before a restart would otherwise ignore the new n=1..5).
    this.n = Date.now();
  }

  /** The sequence number of its last move: changes with every ring. */
  get seq(): number {
    return this.n;
  }

  /** Notes that task `id` moved into `to`, and rings. Never throws: a failed ring only loses speed. */
  ring(to: BellFolder, id: string): void {
    this.n += 1;
    this.events.push({ n: this.n, to, id });
    if (this.events.length > RING) this.events.splice(0, this.events.length - RING);
    this.dirty = true;
    this.writing ??= this.flush();
  }

  /** Writes the bell with no moves, so that readers find this writer before its first move. */
  announce(): Promise<void> {
    this.dirty = true;
    this.writing ??= this.flush();
    return this.settled();
  }

  /** Resolves when every ring so far is in the file. */
  async settled(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async flush(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        const bytes = encodeBell({ writer: this.writer, n: this.n, events: this.events, key: this.key ?? undefined });
        const handle = await open(this.file, WRITE_FLAGS, 0o644);
        try {
          await handle.write(bytes, 0, bytes.length, 0);
        } finally {
          await handle.close();
        }
      }
    } catch (err) {
      this.onError(err);
    } finally {
      this.writing = null;
    }
  }
}

export interface BellNews {
  /** Moves named by the bells since the last look, per folder. */
  moved: BellEvent[];
  /** Something changed that the moves do not say in full: look at the folders. */
  rescan: boolean;
}

/**
 * Reads other writers' bells. `sources` names the writers to read (the agents read only the
 * brain's); without it every bell in the folder but `self`'s, the folder listed again every
 * `relistMs` to find new writers (a listing may be seconds old; a writer lives far longer).
 */
export class BellReader {
  private readonly dir: string;
  private readonly self: string | null;
  private readonly sources: readonly string[] | null;
  private readonly relistMs: number;
  private readonly now: () => number;
  private readonly seen = new Map<string, number>();
  private writers: string[] = [];
  private listedAt = -Infinity;
  /** This process's localKey(), when it skips local writers' bells. */
  private readonly ownKey: string | null;
  private readonly localEveryMs: number;
  /** Each writer's key as its bell last said, and when (this.now()). */
  private readonly keys = new Map<string, { key: string; at: number }>();

  /**
   * `localEveryMs`: a writer whose bell says it runs where this reader runs (localKey) has its
   * moves reach this process as file events, so its bell is read only this often (to see its key
   * still holds); 0 (default) reads every bell on every look. `localKey` overrides this process's.
   */
  constructor(o: { dir: string; self?: string | null; sources?: readonly string[]; relistMs?: number; now: () => number; localEveryMs?: number; localKey?: string | null }) {
    this.dir = o.dir;
    this.self = o.self ?? null;
    this.sources = o.sources ?? null;
    this.relistMs = o.relistMs ?? 5000;
    this.now = o.now;
    this.localEveryMs = o.localEveryMs ?? 0;
    this.ownKey = this.localEveryMs > 0 ? (o.localKey === undefined ? localKey(o.dir) : o.localKey) : null;
  }

  /** A local writer's bell looked at less than localEveryMs ago: skipped this look. */
  private skips(w: string): boolean {
    const k = this.keys.get(w);
    return this.ownKey !== null && k !== undefined && k.key === this.ownKey && this.now() - k.at < this.localEveryMs;
  }

  private noteKey(w: string, key: string | null | undefined): void {
    if (key) this.keys.set(w, { key, at: this.now() });
    else this.keys.delete(w);
  }

  private async listWriters(): Promise<string[]> {
    if (this.sources) return [...this.sources];
    if (this.now() - this.listedAt < this.relistMs) return this.writers;
    this.listedAt = this.now();
    const names = await readdir(this.dir).catch(() => [] as string[]);
    this.writers = names.flatMap((n) => {
      const w = n.endsWith('.bell') ? n.slice(0, -'.bell'.length) : '';
      return w && w !== this.self && isSafeName(w) ? [w] : [];
    });
    return this.writers;
  }

  /** One look at every bell: the moves since the last look. */
  async look(): Promise<BellNews> {
    const news: BellNews = { moved: [], rescan: false };
    const writers = (await this.listWriters()).filter((w) => !this.skips(w));
    // Most looks find nothing new: the sequence number at the head says so without reading
    // and parsing the whole ring (four times a second, in every process of the rig). All heads
    // at once: their reads end together, one wake-up of this process instead of one per bell.
    const heads = await Promise.all(writers.map((w) => readBellHead(join(this.dir, `${w}.bell`))));
    for (const [i, w] of writers.entries()) {
      const file = join(this.dir, `${w}.bell`);
      const head = heads[i]!;
      if (head !== null) this.noteKey(w, head.key);
      if (head !== null && head.n === this.seen.get(w)) continue;
      const r = await readMountFile(file, { maxBytes: BELL_BYTES * 2 });
      if (!r.ok) continue;
      const rec = decodeBell(r.text);
      if (!rec) {
        // Torn by a write in progress, or not a bell: read again next time; meanwhile look.
        news.rescan = true;
        continue;
      }
      if (head === null) this.noteKey(w, rec.key); // else the head said it
      const last = this.seen.get(w) ?? null;
      const d = newEvents(rec, last);
      this.seen.set(w, rec.n);
      if (!d.changed) continue;
      news.moved.push(...d.fresh);
      if (d.gap || last === null) news.rescan = true;
    }
    return news;
  }
}

/** Looks with nothing new after which the bells are looked at IDLE_FACTOR times less often. */
export const QUIET_LOOKS = 20;
export const IDLE_FACTOR = 4;
/**
 * Quiet this long (ms: nothing new on the bells, no move of this process's own, no local file
 * event) with nothing in flight, and the bells are looked at only every IDLE_LOOK_MS.
 */
export const IDLE_AFTER_MS = 10_000;
export const IDLE_LOOK_MS = 2000;

/**
 * Pure: ms to the next look at the bells. A rig at work looks every `baseMs`; after QUIET_LOOKS
 * looks with nothing new, IDLE_FACTOR times less often; quiet for IDLE_AFTER_MS with nothing in
 * flight (`busy` false), every IDLE_LOOK_MS (never faster than the pace before).
 */
export function nextLookMs(baseMs: number, quietLooks: number, quietMs: number, busy: boolean): number {
  if (quietLooks < QUIET_LOOKS) return baseMs;
  const slow = baseMs * IDLE_FACTOR;
  return busy || quietMs < IDLE_AFTER_MS ? slow : Math.max(slow, IDLE_LOOK_MS);
}

/**
 * How often a reader that watches the folders looks at the bell of a writer running where it
 * runs (same localKey): that writer's moves reach it as file events; the look only checks that
 * the key still holds (the writer may have been started again elsewhere under the same name).
 */
export const LOCAL_BELL_EVERY_MS = 5000;

/** Bytes at the head of a bell that hold its writer and sequence number (a writer name is at most 200 characters). */
const HEAD_BYTES = 512;
const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;

/** The sequence number and key at the head of a bell file, read fresh (an open revalidates a network client's cache); null when unreadable. */
async function readBellHead(file: string): Promise<{ n: number | null; key: string | null } | null> {
  try {
    const h = await open(file, READ_FLAGS);
    try {
      const buf = Buffer.alloc(HEAD_BYTES);
      const { bytesRead } = await h.read(buf, 0, HEAD_BYTES, 0);
      const text = buf.subarray(0, bytesRead).toString('utf8');
      return { n: bellHeadN(text), key: bellHeadKey(text) };
    } finally {
      await h.close();
    }
  } catch {
    return null;
  }
}

export interface BellWatchOptions {
  /** The pace of a rig at work (ms): cycles.doorbell_s. */
  intervalMs: number;
  wake: (news: BellNews) => void;
  onError: (err: unknown) => void;
  signal?: AbortSignal;
  /** Whether this process has work in flight: then the bells are never looked at at the idle pace. Default: never. */
  busy?: () => boolean;
  /** A number that changes with each move of this process's own (its bell's seq): one counts as news for the pace. */
  ownMoves?: () => number;
  /** This process's clock (ms); default monotonic. */
  now?: () => number;
}

export interface BellWatch {
  /** Something happened here (a file event in a watched folder): back to the pace of a rig at work, looking now if it had slowed. */
  stir(): void;
  /** The wait before the next look (ms), as decided after the last one. */
  readonly paceMs: number;
  stop(): Promise<void>;
}

/**
 * Looks at the bells every `intervalMs`: each move they name becomes a hint in `store` (looked
 * for by name at the next listing) and `wake` is called with the news when there is any.
 */
export function startBellWatch(reader: Pick<BellReader, 'look'>, store: { hint(folder: TaskFolder, id: string): void }, o: BellWatchOptions): BellWatch {
  const now = o.now ?? (() => performance.now());
  let quietLooks = 0;
  let quietSince = now();
  let own = o.ownMoves?.();
  let pace = o.intervalMs;
  const astir = () => {
    quietLooks = 0;
    quietSince = now();
  };
  const ticker = new Ticker(
    async () => {
      const news = await reader.look();
      for (const e of news.moved) store.hint(e.to, e.id);
      const ownNow = o.ownMoves?.();
      if (news.moved.length || news.rescan || ownNow !== own) astir();
      else quietLooks += 1;
      own = ownNow;
      if (news.moved.length || news.rescan) o.wake(news);
    },
    // Each look costs an open and a read per bell, in every process, all day: with nothing new
    // the looks thin out (nextLookMs); the first move seen, made, or heard of through a local
    // file event brings the pace back. (A host's own moves wake its processes through file events.)
    {
      intervalMs: () => (pace = nextLookMs(o.intervalMs, quietLooks, now() - quietSince, o.busy?.() ?? false)),
      onError: o.onError,
      signal: o.signal,
    },
  );
  ticker.start();
  return {
    stir() {
      astir();
      // Waiting out a slow pace: look now, so a move made on another host at the same time is not left waiting.
      if (pace > o.intervalMs) {
        pace = o.intervalMs;
        ticker.poke();
      }
    },
    get paceMs() {
      return pace;
    },
    stop: () => ticker.stop(),
  };
}
