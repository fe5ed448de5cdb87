// The brain's merge of logs/spool/ (core/spool.ts) into the two logs it alone writes. Every
// other process, on whatever host, appends only to a file of its own; once a second at most
// the brain's pass calls LogMerger.maybeMerge(), which
//   - appends each decisions spool file's new whole lines to logs/brain_decisions.log, in one
//     write (a half-written last line waits for the next round: on NFS a reader may see a
//     stale size and read half a line), and records how far it got in brain/spool_offsets.json;
//   - appends each training sample file to logs/training_samples.jsonl and removes it;
//   - removes a decisions spool file merged to its end, unchanged for an hour on the brain's
//     own clock and whose writer is gone.
// Everything is bounded: a round reads at most 1 MiB per decisions file and a few MiB in all,
// opens nothing but regular files (a FIFO or a link in a spool folder is reported once and
// skipped), and moves a sample file over 8 MiB or not made of JSON lines to quarantine/spool/.
// A decisions file unchanged since its last read (its inode, size and times) is not opened
// again, only stat'ed (core/readByChange.ts); another host's is read anyway every recheckMs.
import { rename, unlink } from 'node:fs/promises';
import { isAlive } from '../core/pids.ts';
import { ObservedAge } from '../core/observedAge.ts';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { tempPathFor } from '../core/atomic.ts';
import { BadFileNotes } from '../core/badFiles.ts';
import { type DecisionLog, appendToOwnLog, printable } from '../core/decisionLog.ts';
import { errorCode, errorMessage } from '../core/errors.ts';
import { readProblem } from '../core/mountJson.ts';
import { readMountFile } from '../core/mountRead.ts';
import type { MountPaths } from '../core/paths.ts';
import { quarantine, writeOwnJson } from '../core/quarantine.ts';
import { ReadByChange } from '../core/readByChange.ts';
import { checkSampleText, rotate, sameMark, shouldRetire } from './spoolMergeRules.ts';
import {
  MAX_SPOOL_LINE_BYTES, SPOOL_READ_BYTES, type SpoolListing, type SpoolMark, type SpoolOffsets, completeLines, emptySpoolOffsets, listSpool, markOf, readSpoolFrom, readSpoolOffsets, spoolWriterPidOn,
} from '../core/spool.ts';

export interface LogMergerOptions {
  paths: MountPaths;
  /** The brain's own log (straight into logs/brain_decisions.log): where the merger reports what it skipped. */
  log: DecisionLog;
  /** The brain's clock (ms). */
  now: () => number;
  /** Diagnostics; default stderr. */
  say?: (line: string) => void;
  /** Least time between two rounds of maybeMerge (ms); default 1000. */
  intervalMs?: number;
  /** Most bytes read from one decisions spool file per round; default 1 MiB. */
  maxReadBytes?: number;
  /** Most bytes of decision lines, and of samples, merged per round; default 8 MiB each. */
  maxRoundBytes?: number;
  /** A sample file larger than this is moved to quarantine/spool/ (bytes); default 8 MiB. */
  maxSampleBytes?: number;
  /** A decisions spool file unchanged this long (brain clock, ms) whose writer is gone is removed; default an hour. */
  retireAfterMs?: number;
  /** This host's name (spool files of its own processes are kept while their pid lives); default os.hostname(). */
  host?: string;
  isAlive?: (pid: number) => boolean;
  /**
   * A decisions file of another host whose stat shows no change since its last read is read
   * anyway once that read is this old (brain clock, ms): a network mount's stat may answer
   * from its cache, an open does not. Default 10 s.
   */
  recheckMs?: number;
  /** A file's version (inode, size, times), or null; default one lstat (tests inject one). */
  versionOf?: (path: string) => Promise<string | null>;
}

/** What one round did. */
export interface MergeRound {
  /** Decision lines appended to logs/brain_decisions.log. */
  lines: number;
  /** Sample files appended to logs/training_samples.jsonl. */
  samples: number;
  /** Decisions spool files removed (merged, quiet, writer gone). */
  retired: string[];
}

/** Most spool files opened per round, and stat'ed per round; the next round goes on from where this one stopped. */
const MAX_FILES_PER_ROUND = 256;
const MAX_LOOKS_PER_ROUND = 4 * MAX_FILES_PER_ROUND;
const MiB = 1024 * 1024;

/** What a round kept of a decisions file it read to its end: enough to decide about it without reading it again. */
interface FileRead {
  /** Its mark after that read: skipping is safe only while the offsets record still holds it. */
  mark: SpoolMark;
  mergedToEnd: boolean;
  /** Its version for the quiet clock (inode and size, as a read sees them). */
  quietKey: string;
}

// ---- the merger ----

export class LogMerger {
  private readonly o: Required<Omit<LogMergerOptions, 'say' | 'versionOf'>> & { say: (line: string) => void };
  /** The offsets as last merged; loaded from brain/spool_offsets.json on the first round. */
  private offsets: SpoolOffsets | null = null;
  /** The offsets record as last written (JSON), to write it only when it changes. */
  private saved = '';
  private last: number | null = null;
  private running = false;
  /** Settles when the round in progress ends (betweenRounds waits on it). */
  private roundDone: Promise<void> = Promise.resolve();
  private cursor = 0;
  private readonly quiet: ObservedAge;
  private readonly notes = new BadFileNotes();
  /** Each decisions file's last whole read, to skip files that did not change since. */
  private readonly reads: ReadByChange<FileRead>;

  constructor(o: LogMergerOptions) {
    this.o = {
      paths: o.paths,
      log: o.log,
      now: o.now,
      say: o.say ?? ((l) => process.stderr.write(l + '\n')),
      intervalMs: o.intervalMs ?? 1000,
      maxReadBytes: o.maxReadBytes ?? SPOOL_READ_BYTES,
      maxRoundBytes: o.maxRoundBytes ?? 8 * MiB,
      maxSampleBytes: o.maxSampleBytes ?? 8 * MiB,
      retireAfterMs: o.retireAfterMs ?? 60 * 60_000,
      host: o.host ?? hostname(),
      isAlive: o.isAlive ?? isAlive,
      recheckMs: o.recheckMs ?? 10_000,
    };
    // How long each spool file has been unchanged, on the brain's own clock between its own looks.
    this.quiet = new ObservedAge(o.now);
    this.reads = new ReadByChange({ maxAgeMs: this.o.recheckMs, now: o.now, stat: o.versionOf });
  }

  /** A round, unless one ran less than intervalMs ago (brain clock). Never throws: a failure is said and retried next time. */
  async maybeMerge(): Promise<MergeRound | null> {
    // One round at a time: the brain's pass and its own timer both call this, and two rounds at
    // once would append the same lines twice.
    if (this.running) return null;
    const now = this.o.now();
    if (this.last !== null && now >= this.last && now - this.last < this.o.intervalMs) return null;
    this.last = now;
    this.running = true;
    const round = this.mergeOnce();
    this.roundDone = round.then(() => {}, () => {});
    try {
      return await round;
    } catch (err) {
      this.o.say(`brain: merging logs/spool/ failed (tried again in a second): ${errorMessage(err)}`);
      return null;
    } finally {
      this.running = false;
    }
  }

  /**
   * Runs `fn` with no merge round in progress: waits for the current one to end, and no round
   * starts until `fn` ends (maybeMerge skips meanwhile). The brain rotates the two merged logs
   * here (housekeeping.ts), so no round's append is split across the old file and the new one.
   */
  async betweenRounds<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running) await this.roundDone;
    this.running = true;
    try {
      return await fn();
    } finally {
      this.running = false;
    }
  }

  /** One round now: decisions, then samples, then retiring quiet decisions files. */
  async mergeOnce(): Promise<MergeRound> {
    const base = await this.loadOffsets();
    // Changes go to a copy, taken over only once what they record is appended: a failed
    // append leaves the offsets where they were, and the next round tries the same lines.
    const next: SpoolOffsets = { decisions: { ...base.decisions }, samples_merged: [...base.samples_merged] };
    const round: MergeRound = { lines: 0, samples: 0, retired: [] };
    // Listed while the decisions are merged (the two listings end together: one wake-up, not
    // two); awaited, and a failure met, in mergeSamples.
    const samples = listSpool(this.o.paths.spoolSamples);
    samples.catch(() => {});
    const retire = await this.mergeDecisions(next, round);
    let samplesFailed: unknown = null;
    let unlinkNow: string[] = [];
    try {
      unlinkNow = await this.mergeSamples(next, round, await samples);
    } catch (err) {
      samplesFailed = err;
    }
    // Appended first, recorded second: a brain that dies between the two appends that
    // round's lines (and samples) again after its restart, at most one round repeated,
    // never a line lost.
    await this.save(next);
    for (const name of unlinkNow) await this.removeSample(next, name);
    for (const name of retire) if (await this.retire(next, name)) round.retired.push(name);
    if (round.retired.length) await this.save(next);
    if (samplesFailed) throw samplesFailed;
    return round;
  }

  private async loadOffsets(): Promise<SpoolOffsets> {
    if (this.offsets) return this.offsets;
    const r = await readSpoolOffsets(this.o.paths);
    if (r.ok) {
      this.offsets = r.value;
      this.saved = JSON.stringify(r.value);
    } else {
      this.offsets = emptySpoolOffsets();
      // Nothing to write until something is merged.
      if (r.missing) this.saved = JSON.stringify(this.offsets);
      // A bad record (a person's edit, a disk fault): every spool file is merged again from
      // its start. Lines may repeat; none is lost. The next save writes a good file.
      if (!r.missing) await this.badFile('brain/spool_offsets.json', r.problem, 'every spool file is merged again from its start, so some lines may appear twice in the logs');
    }
    return this.offsets;
  }

  private async save(next: SpoolOffsets): Promise<void> {
    this.offsets = next;
    const json = JSON.stringify(next);
    if (json === this.saved) return;
    const moved = await writeOwnJson(this.o.paths, 'brain', this.o.paths.spoolOffsets, next);
    this.saved = json;
    if (moved) await this.decide(moved);
  }

  /** Appends new whole lines of every decisions spool file; returns the files to retire. */
  private async mergeDecisions(next: SpoolOffsets, round: MergeRound): Promise<string[]> {
    const { paths } = this.o;
    const dir = paths.spoolDecisions;
    const listing = await listSpool(dir);
    await this.reportOdd(dir, listing.odd);
    const present = new Set(listing.files);
    for (const name of Object.keys(next.decisions)) if (!present.has(name)) delete next.decisions[name];
    this.quiet.keepOnly('', present);
    this.reads.keepOnly(present);
    const lines: string[] = [];
    const marks: SpoolOffsets['decisions'] = {};
    const reads: Array<{ name: string; version: string | null; read: FileRead }> = [];
    const retire: string[] = [];
    let bytes = 0;
    let opened = 0;
    let done = 0;
    const order = rotate(listing.files, this.cursor).slice(0, MAX_LOOKS_PER_ROUND);
    // Stat'ed all at once: on an idle rig this is the whole round. A file of this host's own
    // processes is written through this host's own client, whose stat sees every append: it
    // is read only when it changed. Another host's is read anyway every recheckMs.
    const looks = await Promise.all(order.map((name) => this.reads.look(name, join(dir, name), spoolWriterPidOn(name, this.o.host) === null ? this.o.recheckMs : Infinity)));
    for (const [i, name] of order.entries()) {
      const look = looks[i]!;
      if (!look.changed && sameMark(look.value.mark, next.decisions[name])) {
        // Nothing new since it was read to its end; its quiet time goes on.
        const quietMs = this.quiet.observe(name, look.value.quietKey);
        if (this.retirable(name, look.value.mergedToEnd, quietMs)) retire.push(name);
        done++;
        continue;
      }
      if (opened >= MAX_FILES_PER_ROUND || bytes >= this.o.maxRoundBytes) break;
      opened++;
      done++;
      const file = join(dir, name);
      const rel = relative(paths.root, file);
      const r = await readSpoolFrom(file, next.decisions[name], this.o.maxReadBytes);
      if (!r.ok) {
        if (r.why !== 'missing') await this.badFile(rel, readProblem(r, file), 'skipped: its lines are not merged into logs/brain_decisions.log');
        continue;
      }
      this.notes.clear(rel);
      const got = completeLines(r.bytes);
      for (const l of got.lines) lines.push(printable(l, MAX_SPOOL_LINE_BYTES));
      bytes += got.consumed;
      const end = r.start + got.consumed;
      marks[name] = markOf(r, end);
      const quietKey = `${r.ino}:${r.size}`;
      const quietMs = this.quiet.observe(name, quietKey);
      const mergedToEnd = got.consumed === r.bytes.length && end === r.size;
      if (this.retirable(name, mergedToEnd, quietMs)) retire.push(name);
      // Read to its end (not cut at maxReadBytes): until it changes, another read finds nothing more.
      if (r.bytes.length < this.o.maxReadBytes) reads.push({ name, version: look.version, read: { mark: marks[name], mergedToEnd, quietKey } });
    }
    this.cursor += done;
    // One write for the round's lines, each file's in its own order.
    if (lines.length) await appendToOwnLog(paths, paths.decisionLog, lines.join('\n') + '\n');
    Object.assign(next.decisions, marks);
    // Noted once the lines are appended: a failed append leaves every file to be read again.
    for (const r of reads) this.reads.noteRead(r.name, r.version, r.read);
    round.lines = lines.length;
    return retire;
  }

  private retirable(name: string, mergedToEnd: boolean, quietMs: number): boolean {
    return shouldRetire({ mergedToEnd, quietMs, retireAfterMs: this.o.retireAfterMs, writerPid: spoolWriterPidOn(name, this.o.host), alive: this.o.isAlive });
  }

  /**
   * Appends every sample file (each checked: whole JSON lines) to logs/training_samples.jsonl,
   * in one write, and records their names; returns the names to remove. A name recorded in an
   * earlier round whose file is still there (the brain died before removing it) is removed,
   * never appended again.
   */
  private async mergeSamples(next: SpoolOffsets, round: MergeRound, listing: SpoolListing): Promise<string[]> {
    const { paths } = this.o;
    const dir = paths.spoolSamples;
    await this.reportOdd(dir, listing.odd);
    const present = new Set(listing.files);
    const leftover = next.samples_merged.filter((n) => present.has(n));
    next.samples_merged = leftover;
    const done = new Set(leftover);
    const texts: string[] = [];
    const names: string[] = [];
    let bytes = 0;
    for (const name of listing.files) {
      if (done.has(name)) continue;
      if (names.length >= MAX_FILES_PER_ROUND || bytes >= this.o.maxRoundBytes) break;
      const file = join(dir, name);
      const rel = relative(paths.root, file);
      const r = await readMountFile(file, { maxBytes: this.o.maxSampleBytes });
      if (!r.ok) {
        if (r.why === 'too_big') await this.quarantineSample(file, name, readProblem(r, file));
        else if (r.why !== 'missing') await this.badFile(rel, readProblem(r, file), 'skipped: it is not appended to logs/training_samples.jsonl');
        continue;
      }
      const check = checkSampleText(r.text);
      if (!check.ok) {
        await this.quarantineSample(file, name, check.problem);
        continue;
      }
      texts.push(check.text);
      names.push(name);
      bytes += r.size;
    }
    if (texts.length) await appendToOwnLog(paths, paths.trainingSamples, texts.join(''));
    next.samples_merged.push(...names);
    round.samples = names.length;
    return [...leftover, ...names];
  }

  private async removeSample(next: SpoolOffsets, name: string): Promise<void> {
    try {
      await unlink(join(this.o.paths.spoolSamples, name));
    } catch (err) {
      const code = errorCode(err);
      if (code !== 'ENOENT' && code !== 'ESTALE') {
        this.o.say(`brain: cannot remove merged sample file ${name} (removed next round; never appended twice): ${errorMessage(err)}`);
        return;
      }
    }
    // Gone: its name leaves the record at the next save.
    next.samples_merged = next.samples_merged.filter((n) => n !== name);
  }

  private async quarantineSample(file: string, name: string, problem: string): Promise<void> {
    const rel = relative(this.o.paths.root, file);
    await quarantine(this.o.paths, 'spool', file, name, `${rel}: ${problem}; not appended to logs/training_samples.jsonl`);
    await this.decide(`${rel}: ${problem}; moved to quarantine/spool/, not appended to logs/training_samples.jsonl`);
  }

  /**
   * Removes a quiet decisions spool file: renamed to a temporary name first (a writer's next
   * line then makes a new file), whatever reached it since read once more, its last partial
   * line too (cut), then the file removed and its offset forgotten. Only a line whose write
   * began before the rename and ended after that last read, after an hour of quiet, is lost.
   */
  private async retire(next: SpoolOffsets, name: string): Promise<boolean> {
    const { paths } = this.o;
    const file = join(paths.spoolDecisions, name);
    const tmp = tempPathFor(file);
    try {
      await rename(file, tmp);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ENOENT' || code === 'ESTALE') {
        delete next.decisions[name];
        return false;
      }
      throw err;
    }
    const r = await readSpoolFrom(tmp, next.decisions[name], this.o.maxReadBytes);
    if (r.ok && r.bytes.length) {
      const got = completeLines(r.bytes);
      const lines = got.lines.map((l) => printable(l, MAX_SPOOL_LINE_BYTES));
      const tail = r.bytes.subarray(got.consumed);
      if (tail.length) lines.push(printable(tail.toString('utf8'), MAX_SPOOL_LINE_BYTES) + '…');
      if (lines.length) await appendToOwnLog(paths, paths.decisionLog, lines.join('\n') + '\n');
    }
    delete next.decisions[name];
    this.quiet.forget(name);
    this.reads.forget(name);
    await unlink(tmp).catch(() => {});
    return true;
  }

  private async reportOdd(dir: string, odd: Array<{ name: string; kind: string }>): Promise<void> {
    for (const e of odd) {
      await this.badFile(relative(this.o.paths.root, join(dir, e.name)), `is ${e.kind}, not a regular file`, 'skipped: a spool folder holds only files their writers append to');
    }
  }

  /** Says once in the decision log that a spool entry is bad, and what is done about it. */
  private async badFile(rel: string, problem: string, consequence: string): Promise<void> {
    if (this.notes.first(rel, problem)) await this.decide(`${rel}: ${problem}; ${consequence}`);
  }

  private async decide(reason: string): Promise<void> {
    await this.o.log.write({ who: 'brain', what: 'BAD_FILE', reason }).catch((err: unknown) => this.o.say(`brain: cannot log a decision: ${errorMessage(err)}`));
  }
}
