// The file store: the only code that touches the task folders. A task moves between folders
// only by rename; losing a rename race is a normal outcome, returned as false.
import { lstat, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { uniqueHex, writeFileSynced, writeJsonAtomic } from './atomic.ts';
import { errorMessage, isGone } from './errors.ts';
import { readMountFile } from './mountRead.ts';
import { type MountPaths, type TaskFolder, TASK_FOLDERS, childPath, isSafeName } from './paths.ts';
import { quarantine } from './quarantine.ts';
import { MAX_TASK_BYTES, parseTaskText, readTaskFile, surveyFolder } from './taskFile.ts';
import { Task, type TaskInput } from './task.ts';
import { MoveHints } from './moveHints.ts';
import { MadeFolders, archiveDir } from './placeTask.ts';
import { REPLACE_TEMP, finishReplace, finishReplacesOf } from './takenRecovery.ts';
import type { ClaimOutcome, KnownVersion, ReadOutcome, ReplaceOutcome, StoreOptions } from './storeTypes.ts';
import { ObservedAge } from './observedAge.ts';
import { monotonicMs } from './clock.ts';
import { UNREADABLE_GRACE_MS, UnreadableWatch, fileVersion } from './unreadable.ts';
import { BELL_FOLDERS, type BellFolder, type Doorbell } from './doorbell.ts';

export { quarantine } from './quarantine.ts';

export type { ClaimOutcome, KnownVersion, ReadOutcome, ReplaceOutcome, StoreOptions } from './storeTypes.ts';

/** How often replace() reads a file again that read torn, before it leaves the verdict to read(). */
const TORN_RETRIES = 5;
/** Pause before the n-th of those reads, times n (ms). */
const TORN_PAUSE_MS = 20;

/** How often replace() starts again when the file changed between its read and its take. */
const REPLACE_TRIES = 5;

/**
 * A taken file seen unchanged this long (ms, on this process's own clock: core/observedAge.ts,
 * never its ctime, which another host's clock may have stamped) belongs to a replace() whose
 * process died between its take and its publish. Far above the milliseconds a replace takes.
 */
export const TAKEN_STALE_MS = 30_000;

export class TaskStore {
  readonly paths: MountPaths;
  private readonly takenStaleMs: number;
  private readonly unreadable: UnreadableWatch;
  /** How long each taken file (folder/name) has been seen unchanged by this process. */
  private readonly takenAges: ObservedAge;
  private readonly own: ReadonlySet<TaskFolder>;
  private readonly bell: Doorbell | null;
  private readonly now: () => number;
  private readonly hints: MoveHints;
  private readonly archiveDirs = new MadeFolders();
  constructor(paths: MountPaths, opts: StoreOptions = {}) {
    this.paths = paths;
    this.takenStaleMs = opts.takenStaleMs ?? TAKEN_STALE_MS;
    this.now = opts.now ?? monotonicMs;
    this.unreadable = new UnreadableWatch(opts.unreadableGraceMs ?? UNREADABLE_GRACE_MS, this.now);
    this.takenAges = new ObservedAge(this.now);
    this.own = new Set(opts.ownFolders ?? []);
    this.bell = opts.bell ?? null;
    this.hints = new MoveHints(this.now);
  }

  /**
   * Notes another process's word (its doorbell) that task `id` moved into `folder`: listHinted()
   * looks for it there by name until its listing shows it, or for HINT_MS. A word that is not
   * true costs one failed lookup; nothing is believed without reading the file.
   */
  hint(folder: TaskFolder, id: string): void {
    this.hints.add(folder, id);
  }

  /**
   * The ids that doorbells say moved into `folder` and that `listed` (this folder's listing)
   * does not show yet: another client's listing can be seconds old, a lookup by name is not.
   * Hints the listing confirms, or that are older than HINT_MS, are dropped. A hint is only a
   * place to look: the caller reads the file (or renames it) and drops the hint when it is not there.
   */
  hinted(folder: TaskFolder, listed: ReadonlySet<string>): string[] {
    return this.hints.pending(folder, listed);
  }

  /** Forgets a hint found not to hold (the file is not there). */
  dropHint(folder: TaskFolder, id: string): void {
    this.hints.drop(folder, id);
  }

  /** list(), plus hinted() ids: for a reader that acts on each id by reading or renaming it (the agent's claim pass). */
  async listHinted(folder: TaskFolder): Promise<string[]> {
    const ids = await this.list(folder);
    return [...ids, ...this.hinted(folder, new Set(ids))];
  }

  /** Rings this process's doorbell for a move into `to`. */
  private rang(to: TaskFolder, id: string): void {
    if (this.bell && (BELL_FOLDERS as readonly string[]).includes(to)) this.bell.ring(to as BellFolder, id);
  }

  fileOf(folder: TaskFolder, id: string): string {
    return childPath(this.paths.folders[folder], `${id}.json`, 'task id');
  }

  /**
   * Ids of the task files in a folder. Temporary files are skipped; foreign names and entries
   * that are not regular files (FIFOs, directories, symlinks, devices: judged from the listing,
   * never opened) are quarantined with the reason. One entry that cannot be handled is left
   * for the next listing; it never stops the others.
   */
  async list(folder: TaskFolder): Promise<string[]> {
    const survey = await surveyFolder(this.paths.folders[folder]);
    const ids = [...survey.ids];
    const takenNow = new Set<string>();
    for (const name of survey.temps) {
      const taken = REPLACE_TEMP.exec(name);
      if (taken?.[4] !== 'taken') continue;
      takenNow.add(`${folder}/${name}`);
      const back = await this.recoverTaken(folder, name, taken[1]!, taken[2]!, taken[3]!).catch(() => null);
      if (back === folder) ids.push(taken[1]!);
    }
    for (const bad of survey.bad) await this.quarantineFile(folder, bad.name, bad.problem).catch(() => {});
    this.unreadable.keepOnly(`${folder}/`, new Set(ids.map((id) => `${folder}/${id}`)));
    this.takenAges.keepOnly(`${folder}/`, takenNow);
    return ids;
  }

  /**
   * Reads a task; never throws for what the file holds. A file that vanished is 'missing'. One
   * that is not a task (not a regular file, too big, valid JSON of something else) is
   * quarantined at once. One that does not parse or cannot be opened may be a torn read of a
   * file another process is replacing: it is 'not_ready' until the same version of it has
   * failed every look for unreadableGraceMs on this process's clock, and only then quarantined.
   */
  async read(folder: TaskFolder, id: string): Promise<ReadOutcome> {
    const file = this.fileOf(folder, id);
    const key = `${folder}/${id}`;
    const r = await readTaskFile(file, id);
    if (r.ok) {
      this.unreadable.forget(key);
      return r;
    }
    let reason = r.problem;
    if (r.why === 'not_ready' && !this.own.has(folder)) {
      const version = await fileVersion(file);
      if (version === null) {
        this.unreadable.forget(key);
        return { ok: false, reason: 'missing' };
      }
      const { due, forMs } = this.unreadable.note(key, version);
      if (!due) return { ok: false, reason: 'not_ready', problem: r.problem };
      if (forMs > 0) reason += `; unchanged and unreadable for ${Math.round(forMs / 1000)} s`;
    }
    this.unreadable.forget(key);
    if (r.why === 'missing') return { ok: false, reason: 'missing' };
    try {
      await this.quarantineFile(folder, `${id}.json`, reason);
    } catch (err) {
      return { ok: false, reason: 'not_ready', problem: `${reason}; could not be moved to quarantine/: ${errorMessage(err)}` };
    }
    return { ok: false, reason: 'quarantined', problem: reason };
  }

  /** Reads all tasks of a folder that can be read. */
  async readAll(folder: TaskFolder): Promise<Task[]> {
    const out: Task[] = [];
    for (const id of await this.list(folder)) {
      const r = await this.read(folder, id);
      if (r.ok) out.push(r.task);
    }
    return out;
  }

  /**
   * Writes a task whole into a folder: to create it, or to replace a file no other process
   * moves (the brain's own private/ tasks). A file other processes may move meanwhile (one in
   * processing/) must be updated with replace(): write() renames a new file into place whether
   * or not the old one is still there, so it brings back a task a racing process has moved on.
   */
  async write(folder: TaskFolder, task: TaskInput): Promise<Task> {
    const valid = Task.parse(task);
    const own = this.own.has(folder);
    await writeJsonAtomic(this.fileOf(folder, valid.id), valid, { sync: !own });
    if (!own) this.rang(folder, valid.id);
    return valid;
  }

  /**
   * Updates a task that other processes may act on at the same time (the agent finishing it,
   * the brain returning it for a presumed-dead agent, the agent's next life reclaiming it), and
   * moves it to `to` (default: where it is), without ever making a second copy of it.
   *
   * The new task is written first, to a temporary file in `to`. Then the file is taken by one
   * rename to a private temporary name: of any number of racers exactly one wins, and the
   * others get 'gone' and must treat the task as no longer theirs. The winner checks that the
   * file still holds what `change` saw (else it puts it back and starts again), renames the new
   * task into place and removes the taken file. `change` may return null to leave the task
   * untouched ('declined'), e.g. when its claim token is no longer the caller's.
   *
   * Between the take and the last rename (one read of a small file) the task is in no folder:
   * a process killed exactly then leaves it as `.<id>.json.<pid>.<hex>.taken.tmp` in `from`,
   * with its new version as `.<id>.json.<pid>.<hex>.fresh.tmp` in `to`; list() finishes such a
   * replace once a lister has seen the taken file unchanged for takenStaleMs (see recoverTaken).
   */
  async replace(from: TaskFolder, id: string, change: (cur: Task) => TaskInput | null, to: TaskFolder = from, known?: KnownVersion): Promise<ReplaceOutcome> {
    const src = this.fileOf(from, id);
    const dest = this.fileOf(to, id);
    let torn = 0;
    let changed = 0;
    for (;;) {
      // The caller's word for what the file holds saves the first read; the check after the
      // take (below) holds it to that, as it holds a read.
      const got = known ? ({ ok: true, text: known.text } as const) : await readMountFile(src, { maxBytes: MAX_TASK_BYTES });
      const cur = known ? ({ ok: true, task: known.task } as const) : got.ok ? parseTaskText(got.text, id) : null;
      known = undefined;
      if (!got.ok && got.why === 'missing') return { ok: false, reason: 'gone' };
      const text = got.ok ? got.text : null;
      if (!cur?.ok) {
        // A torn read of a file another process is replacing reads whole a moment later.
        const mayBeTorn = !got.ok ? got.why === 'unreadable' : cur?.why === 'not_ready';
        if (mayBeTorn && torn < TORN_RETRIES) {
          torn += 1;
          await sleep(TORN_PAUSE_MS * torn);
          continue;
        }
        const r = await this.read(from, id); // quarantines it with the reason, once it is garbage for sure
        if (r.ok && torn <= TORN_RETRIES) {
          torn = TORN_RETRIES + 1; // whole now: one more go
          continue;
        }
        return { ok: false, reason: r.ok || r.reason === 'not_ready' ? 'unreadable' : r.reason === 'missing' ? 'gone' : 'quarantined' };
      }
      const input = change(cur.task);
      if (input === null) return { ok: false, reason: 'declined' };
      const next = Task.parse(input);
      // Named as a pair, so that recoverTaken() can finish a replace whose process died.
      const pair = `.${id}.json.${process.pid}.${uniqueHex()}`;
      const fresh = join(dirname(dest), `${pair}.fresh.tmp`);
      const freshText = JSON.stringify(next, null, 2) + '\n';
      await writeFileSynced(fresh, freshText);
      const taken = join(dirname(src), `${pair}.taken.tmp`);
      try {
        await rename(src, taken);
      } catch (err) {
        await unlink(fresh).catch(() => {});
        if (isGone(err)) return { ok: false, reason: 'gone' };
        throw err;
      }
      const again = await readMountFile(taken, { maxBytes: MAX_TASK_BYTES });
      if (!again.ok || again.text !== text) {
        // Rewritten between our read and our take (by a writer that does not take first): put
        // it back as it is now and decide again on what it holds.
        await rename(taken, src);
        await unlink(fresh).catch(() => {});
        changed += 1;
        if (changed >= REPLACE_TRIES) throw new Error(`task ${id}: ${from}/ kept changing under replace(); gave up after ${changed} tries`);
        continue;
      }
      await rename(fresh, dest);
      await unlink(taken).catch(() => {});
      if (to !== from) this.rang(to, id);
      return { ok: true, task: next, text: freshText };
    }
  }

  /**
   * The claim and its record in one move: the queued file is taken by one rename into
   * processing/ under a taken name (of any number of racing claimers exactly one wins; the
   * others get `won: false` and have written nothing), read, `change` makes the claimed
   * version from what it holds, and that is written whole and renamed into place; the taken
   * file is removed. `known` (the queued file as the caller last read it) spares parsing it
   * again when it still holds the same text.
   *
   * A claimer killed between the take and its publish leaves the task only in its taken file,
   * as it was queued: a lister of processing/ puts it back there after takenStaleMs (the
   * claimer's next life at once), unclaimed, and the brain returns an unclaimed file to queue/.
   * A taken file that does not read as a task goes to processing/ as it is, `task: null`:
   * the caller records the claim with replace(), which judges such files (torn, garbage). A
   * file that no longer holds what `change` expects (`change` returns null) goes back to queue/.
   */
  async claimRecorded(id: string, change: (cur: Task) => TaskInput | null, known?: KnownVersion): Promise<ClaimOutcome> {
    const src = this.fileOf('queue', id);
    const dest = this.fileOf('processing', id);
    const pair = `.${id}.json.${process.pid}.${uniqueHex()}`;
    const taken = join(dirname(dest), `${pair}.taken.tmp`);
    try {
      await rename(src, taken);
    } catch (err) {
      if (isGone(err)) return { won: false };
      throw err;
    }
    const got = await readMountFile(taken, { maxBytes: MAX_TASK_BYTES });
    if (!got.ok && got.why === 'missing') return { won: false };
    let was: Task;
    if (got.ok && got.text === known?.text) was = known.task;
    else {
      const parsed = got.ok ? parseTaskText(got.text, id) : null;
      if (!parsed?.ok) {
        await rename(taken, dest);
        return { won: true, task: null };
      }
      was = parsed.task;
    }
    const input = change(was);
    if (input === null) {
      await rename(taken, src);
      return { won: false };
    }
    const next = Task.parse(input);
    const text = JSON.stringify(next, null, 2) + '\n';
    const fresh = join(dirname(dest), `${pair}.fresh.tmp`);
    await writeFileSynced(fresh, text);
    await rename(fresh, dest);
    await unlink(taken).catch(() => {});
    return { won: true, task: next, text, was };
  }

  /**
   * Finishes a replace() whose process died between its take and its publish (the task is in
   * no folder then, only in its taken file), once this process has seen the taken file
   * unchanged for takenStaleMs (core/takenRecovery.ts). Returns the folder the task is in now
   * when this call put it there, else null.
   */
  private async recoverTaken(folder: TaskFolder, name: string, id: string, pid: string, hex: string): Promise<TaskFolder | null> {
    if (!isSafeName(id)) return null;
    const taken = join(this.paths.folders[folder], name);
    // Judged on this process's clock: the first listing that sees it starts the count, and a
    // live replace (which renames it away in milliseconds) is never given the time to look stale.
    const version = await fileVersion(taken);
    if (version === null) {
      this.takenAges.forget(`${folder}/${name}`);
      return null;
    }
    if (this.takenAges.observe(`${folder}/${name}`, version) < this.takenStaleMs) return null;
    this.takenAges.forget(`${folder}/${name}`);
    return finishReplace(this.paths, folder, taken, id, pid, hex);
  }

  /** Finishes every replace() of a dead `pid` at once (core/takenRecovery.ts); list() finishes the others once stale. */
  recoverInterrupted(pid: number): Promise<string[]> {
    return finishReplacesOf(this.paths, pid);
  }

  /** Moves a task by one rename. False when another process moved it first. */
  async move(id: string, from: TaskFolder, to: TaskFolder): Promise<boolean> {
    try {
      await rename(this.fileOf(from, id), this.fileOf(to, id));
      this.rang(to, id);
      return true;
    } catch (err) {
      if (isGone(err)) return false;
      throw err;
    }
  }

  /** A finished task into tasks/archive/<batch>/ by one rename, so scans stay small; false when another process moved it first. */
  async archive(id: string, from: TaskFolder, batch: string): Promise<boolean> {
    const dir = archiveDir(this.paths, batch);
    await this.archiveDirs.ensure(dir);
    try {
      await rename(this.fileOf(from, id), childPath(dir, `${id}.json`, 'task id'));
      return true;
    } catch (err) {
      if (!isGone(err)) throw err;
      return (await this.archiveDirs.lost(dir)) ? this.archive(id, from, batch) : false;
    }
  }

  /** The claim: one rename from queue/ to processing/. Of any number of racing claimers exactly one wins. */
  claim(id: string): Promise<boolean> {
    return this.move(id, 'queue', 'processing');
  }

  async exists(folder: TaskFolder, id: string): Promise<boolean> {
    try {
      await lstat(this.fileOf(folder, id));
      return true;
    } catch (err) {
      if (isGone(err)) return false;
      throw err;
    }
  }

  /** Which folder holds a task now, or null. */
  async locate(id: string): Promise<TaskFolder | null> {
    for (const folder of TASK_FOLDERS) if (await this.exists(folder, id)) return folder;
    return null;
  }

  async remove(folder: TaskFolder, id: string): Promise<void> {
    await unlink(this.fileOf(folder, id)).catch((err) => {
      if (!isGone(err)) throw err;
    });
  }

  /** Moves an unreadable file aside with a note of why, so it never blocks the folder again. */
  async quarantineFile(folder: TaskFolder | string, name: string, reason: string): Promise<void> {
    const src = join(folder in this.paths.folders ? this.paths.folders[folder as TaskFolder] : folder, name);
    await quarantine(this.paths, String(folder), src, name, reason);
  }
}
