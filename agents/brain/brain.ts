// The brain's loop: take submissions, scan the task folders, decide per batch, act.
// All state is on the mount; the in-memory index is a cache rebuilt from the folders.
import { lstat, mkdir, rename, unlink, readdir, writeFile } from 'node:fs/promises';
import { join, basename } from 'node:path';
import type { Clock } from '../core/clock.ts';
import { isoTime } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { DecisionLog, type Decision } from '../core/decisionLog.ts';
import { errorMessage } from '../core/errors.ts';
import { listInbox, newBatchId, readSubmission, type Submission } from '../core/inbox.ts';
import { writeJsonAtomic } from '../core/atomic.ts';
import { type MountPaths, TASK_FOLDERS, type TaskFolder, batchDir, planDir } from '../core/paths.ts';
import { TaskStore } from '../core/store.ts';
import type { Doorbell } from '../core/doorbell.ts';
import { type SealRecord, addToSeal, readSeal, taskDigest, writeSeal } from '../core/seal.ts';
import { type AttemptRecord, Task, type TaskInput, type WorkerResult } from '../core/task.ts';
import {
  type BatchRecord, type BrainState, batchOfTaskId, batchRecordPath, readBatchRecord, readBatchRecordFile, readBrainStateFile, writeBatchRecord, writeBrainState, listBatchIds,
} from '../core/batch.ts';
import { BadFileNotes } from '../core/badFiles.ts';
import { UnreadableWatch, fileVersion } from '../core/unreadable.ts';
import { checkPlanBounded } from '../plan/boundedCheck.ts';
import type { ParseBudget } from '../plan/limits.ts';
import { buildBatchTasks } from '../plan/build.ts';
import { expandForeach, readManifestItems } from '../plan/expand.ts';
import { type BrainAction, type TaskView, decideBatch } from './decide.ts';
import { buildSummary, writeSummary } from './summary.ts';
import { AgentWatcher } from './watchAgents.ts';
import { HeatManager, RIG_BATCH } from './heatManager.ts';
import { Evaluator } from './evaluate.ts';
import { type Estimates, applyEstimates, learnFrom, readEstimates, writeEstimates } from './learn.ts';
import { inferTaskClass } from '../plan/infer.ts';
import { MISSING_AFTER_MS, decideTakeBack, overdueMissing } from './missing.ts';
import { cleanMountTempFiles } from '../core/leftovers.ts';
import { ObservedAge } from '../core/observedAge.ts';
import { PlanChecks } from './planChecks.ts';
import { LogMerger } from './logMerge.ts';

export interface BrainOptions {
  paths: MountPaths;
  config: Config;
  clock: Clock;
  /** Diagnostics (not decisions) go here; default stderr. */
  say?: (line: string) => void;
  /** Called when a submitted plan's check (in a worker thread) ends, to run a pass soon. */
  wake?: () => void;
  /** Limits of that check; default DEFAULT_PARSE_BUDGET (agents/plan/limits.ts). */
  parseBudget?: ParseBudget;
  /** The brain's doorbell (core/doorbell.ts): its releases are rung there for agents on other hosts. */
  bell?: Doorbell;
}

const FINAL = new Set(['complete', 'failed', 'cancelled']);
/** Task files a fan-out writes at once. */
const WRITE_AHEAD = 16;

export class Brain {
  readonly store: TaskStore;
  readonly tasks = new Map<string, TaskView>();
  readonly batches = new Map<string, BatchRecord>();
  private readonly paths: MountPaths;
  private readonly config: Config;
  private readonly clock: Clock;
  private readonly log: DecisionLog;
  private readonly say: (line: string) => void;
  private readonly watcher: AgentWatcher;
  private lastWatch = 0;
  private readonly rigTasks = new Map<string, TaskFolder>();
  /** When each missing task of an active batch was first found in no folder (brain clock). */
  private readonly missingSince = new Map<string, number>();
  /** Missing tasks that could not be rebuilt, reported once. */
  private readonly missingReported = new Set<string>();
  /** Each active batch's seal as last written. */
  private readonly seals = new Map<string, SealRecord>();
  private estimates: Estimates = {};
  private readonly heat: HeatManager;
  private readonly evaluator: Evaluator;
  private lastClean = 0;
  /** How long each temporary file on the mount has been seen unchanged, on the brain's clock. */
  private readonly tempAges = new ObservedAge(() => this.clock.now());
  private readonly badFiles = new BadFileNotes();
  /** Submissions that did not parse: a person may still be writing one by hand. */
  private readonly tornInbox: UnreadableWatch;
  private readonly planChecks: PlanChecks;
  private readonly spool: LogMerger;

  constructor(opts: BrainOptions) {
    this.paths = opts.paths;
    this.config = opts.config;
    this.clock = opts.clock;
    // private/ is the brain's own: what it cannot read there was never half-written by another process.
    const graceMs = opts.config.timeouts.unreadable_grace_s * 1000;
    this.store = new TaskStore(opts.paths, { unreadableGraceMs: graceMs, now: () => this.clock.now(), ownFolders: ['private'], bell: opts.bell });
    this.tornInbox = new UnreadableWatch(graceMs, () => this.clock.now());
    this.log = new DecisionLog(opts.paths.decisionLog, () => this.clock.now());
    this.say = opts.say ?? ((l) => process.stderr.write(l + '\n'));
    this.watcher = new AgentWatcher({ paths: this.paths, config: this.config, clock: this.clock, store: this.store, log: this.log });
    this.heat = new HeatManager({ paths: this.paths, config: this.config, clock: this.clock, store: this.store, log: this.log });
    this.evaluator = new Evaluator(this.config, this.log);
    this.planChecks = new PlanChecks(opts.parseBudget, opts.wake ?? (() => {}));
    this.spool = new LogMerger({ paths: this.paths, log: this.log, now: () => this.clock.now(), say: this.say });
  }

  private now(): string {
    return isoTime(this.clock.now());
  }

  private decide(d: Omit<Decision, 'who'>): Promise<string> {
    return this.log.write({ ...d, who: 'brain' });
  }

  /** Loads the active batches from the mount (state.json, plus any unfinished batch record). */
  async recover(): Promise<void> {
    this.estimates = await readEstimates(this.paths);
    const stateRead = await readBrainStateFile(this.paths);
    const state = stateRead.ok ? stateRead.value : null;
    const ids = new Set(state?.active_batches ?? []);
    for (const id of await listBatchIds(this.paths)) ids.add(id);
    // A finished batch with task files still in complete/ or failed/ was interrupted while
    // archiving (state.json may not say so: the previous life may have died before writing it).
    const unarchived = new Set<string>();
    for (const f of ['complete', 'failed'] as const) for (const id of await this.store.list(f)) unarchived.add(batchOfTaskId(id));
    for (const id of ids) {
      const read = await readBatchRecordFile(this.paths, id);
      if (!read.ok) {
        if (!read.missing) await this.badFile(`brain/batches/${id}.json`, read.problem, 'skipped: that batch is not run until a person fixes or removes the file (npm run doctor)');
        continue;
      }
      const rec = read.value;
      if (FINAL.has(rec.state) && !state?.active_batches.includes(id) && !unarchived.has(id)) continue;
      this.batches.set(id, rec);
    }
    if (!stateRead.ok && !stateRead.missing) {
      // Rebuilt from what the folders say; written at once, so the next reader finds a good file.
      const moved = await writeBrainState(this.paths, this.stateNow());
      await this.badFile('brain/state.json', stateRead.problem, `the active batches were rebuilt from brain/batches/ and the task folders and the file written again${moved ? ' (the old one is in quarantine/brain/)' : ''}`);
    } else if (state?.shared_root !== this.paths.root) {
      // Says at once where this brain has the mount, for agents on other hosts to check theirs against.
      await this.saveState();
    }
    if (this.batches.size) {
      await this.decide({ what: 'RECOVER', reason: `${this.batches.size} active batch(es) from the mount: ${[...this.batches.keys()].join(', ')}` });
    }
  }

  /** Says once in the decision log that a file the brain reads is bad, and what it does about it. */
  private async badFile(rel: string, problem: string, consequence: string): Promise<void> {
    if (this.badFiles.first(rel, problem)) await this.decide({ what: 'BAD_FILE', reason: `${rel}: ${problem}; ${consequence}` });
  }

  /** What the brain moved out of the way of its own writes (a directory where state.json or a batch record goes). */
  private readonly movedAside = (why: string): void => {
    void this.decide({ what: 'BAD_FILE', reason: why }).catch(() => {});
  };

  /** A decision made outside the pass (at start: the lock taken over from another brain). */
  note(what: string, reason: string): Promise<string> {
    return this.decide({ what, reason });
  }

  /** Merges the other writers' spool files into the logs, at most once a second (logMerge.ts). */
  mergeLogs(): Promise<unknown> {
    return this.spool.maybeMerge();
  }

  /** One pass: submissions, a scan of the folders, decisions and actions for every active batch. */
  async pass(): Promise<void> {
    await this.spool.maybeMerge();
    await this.ingestInbox();
    await this.housekeeping();
    await this.scan();
    const approvals = await this.listApprovals();
    for (const batch of [...this.batches.values()]) {
      if (FINAL.has(batch.state)) {
        // Only after a restart: the previous life finished this batch but died archiving it.
        await this.archive(batch.id);
        this.batches.delete(batch.id);
        await this.saveState();
        await this.decide({ what: 'ARCHIVE', batch: batch.id, reason: `${batch.state} batch archived after a restart interrupted its archiving` });
        continue;
      }
      await this.ensureSealed(batch);
      const actions = decideBatch(batch, this.tasks, approvals, this.config, this.watcher.maxBudgetMb());
      for (const action of actions) {
        try {
          await this.act(batch.id, action);
        } catch (err) {
          this.say(`brain: ${action.kind} in batch ${batch.id} failed: ${errorMessage(err)}`);
        }
      }
    }
    await this.heat.step(this.tasks, this.rigTasks, this.watcher);
  }

  /** Agents and stuck tasks at most once a second; stale temporary files every few minutes. */
  private async housekeeping(): Promise<void> {
    const now = this.clock.now();
    if (now - this.lastWatch >= 1000) {
      this.lastWatch = now;
      // Watching agents must not stop the batches: whatever it meets, the pass goes on.
      await this.watcher.check().catch((err: unknown) => this.say(`brain: watching agents failed: ${errorMessage(err)}`));
    }
    if (now - this.lastClean >= 5 * 60_000) {
      this.lastClean = now;
      // Power loss leaves temporary files behind; one seen unchanged for ten minutes (brain clock) has no live writer.
      const { removed } = await cleanMountTempFiles(this.paths, this.tempAges);
      if (removed.length) await this.decide({ what: 'CLEANUP', reason: `removed ${removed.length} stale temporary file(s) left by an interrupted write` });
    }
  }

  // ---- submissions ----

  private async ingestInbox(): Promise<void> {
    const files = await listInbox(this.paths);
    this.tornInbox.keepOnly('', new Set(files));
    this.planChecks.keepOnly(files);
    for (const file of files) {
      try {
        await this.ingest(file);
      } catch (err) {
        await this.reject(file, [`${file}: ${errorMessage(err)}`]);
      }
    }
  }

  private async reject(file: string, problems: string[]): Promise<void> {
    const dest = join(this.paths.inboxRejected, basename(file));
    await mkdir(this.paths.inboxRejected, { recursive: true });
    await rename(file, dest).catch(() => {});
    await writeFile(`${dest}.errors.txt`, problems.join('\n') + '\n').catch(() => {});
    // The log line names the first problems; the file beside the submission has them all.
    const more = problems.length > 3 ? `; ... ${problems.length - 3} more in ${basename(dest)}.errors.txt` : '';
    await this.decide({ what: 'REJECT', reason: `submission ${basename(file)}: ${problems.slice(0, 3).join('; ')}${more}` });
  }

  private async ingest(file: string): Promise<void> {
    const read = await readSubmission(file);
    if (!read.ok) {
      if (read.missing) return;
      // One that does not parse may be half-written: rejected once it has stayed so for the grace.
      const version = read.torn ? await fileVersion(file) : null;
      if (version !== null && !this.tornInbox.note(file, version).due) return;
      this.tornInbox.forget(file);
      return this.reject(file, [read.error]);
    }
    this.tornInbox.forget(file);
    let sub = read.sub;
    if (!sub.batch_id) {
      // A hand-written submission gets its id written back first, so a crash cannot make two batches of it.
      sub = { ...sub, batch_id: newBatchId(this.clock.now()), submitted_at: sub.submitted_at ?? this.now() };
      await writeJsonAtomic(file, sub);
    }
    const batchId = sub.batch_id!;
    const values = Object.fromEntries(Object.entries(sub.config).map(([k, v]) => [k, String(v)]));
    const taken = await this.batchIdTaken(batchId, sub, values);
    if (taken === 'already_ingested') {
      await unlink(file).catch(() => {});
      return;
    }
    if (taken) return this.reject(file, [`${file}: ${taken}`]);
    let dir: string;
    try {
      dir = planDir(this.paths, sub.plan);
    } catch (err) {
      return this.reject(file, [errorMessage(err)]);
    }
    // Read, parsed and validated in a worker thread; until it ends, later passes come back here.
    const checked = this.planChecks.poll(file, { dir, values, key: JSON.stringify([sub.plan, batchId, values]) });
    if (!checked) return;
    const { plan, problems } = checked;
    if (!plan || problems.length) return this.reject(file, problems.length ? problems : [`${dir}: no plan`]);

    const batchPath = batchDir(this.paths, plan.name, batchId);
    await mkdir(batchPath, { recursive: true });
    const tasks = buildBatchTasks(plan, { batchId, batchPath, values, config: this.config, now: this.clock.now() });
    const learnedNote = applyEstimates(this.estimates, tasks);
    // The seal first: no task of the batch can be released before the agents can check it.
    await this.seal(batchId, batchPath, tasks);
    const existing = await this.allTaskIds();
    for (const t of tasks) {
      if (!existing.has(t.id)) await this.store.write('private', t);
    }
    const rec = await writeBatchRecord(this.paths, {
      id: batchId,
      plan: plan.name,
      plan_dir: plan.dir,
      batch_path: batchPath,
      state: 'pending',
      values,
      submitted_at: sub.submitted_at ?? this.now(),
      started_at: null,
      finished_at: null,
      task_ids: tasks.map((t) => t.id),
    }, this.movedAside);
    this.batches.set(batchId, rec);
    await this.saveState();
    await unlink(file).catch(() => {});
    await this.decide({ what: 'SUBMIT', batch: batchId, reason: `plan ${plan.name}: ${tasks.length} tasks (batch_summary included)${learnedNote.length ? `; learned VRAM estimates: ${learnedNote.join(', ')}` : ''}` });
    const specs = new Map(plan.tasks.map((p) => [p.name, p]));
    for (const t of tasks) {
      const spec = specs.get(t.name);
      if (spec && spec.task_class === null) {
        await this.decide({ what: 'INFER', task: t.id, reason: `task_class ${t.task_class}: ${inferTaskClass(spec).rule}` });
      }
    }
  }

  /**
   * Why a submission may not use this batch id: it is a batch already (a record in
   * brain/batches/, an active batch, or one in state.json), which a second submission would
   * silently break. 'already_ingested' when it is this very submission's batch: the brain made
   * it and stopped before removing the inbox file.
   */
  private async batchIdTaken(id: string, sub: Submission, values: Record<string, string>): Promise<string | 'already_ingested' | null> {
    const rec = this.batches.get(id) ?? (await readBatchRecord(this.paths, id));
    if (rec && rec.plan === sub.plan && rec.submitted_at === sub.submitted_at && JSON.stringify(rec.values) === JSON.stringify(values)) return 'already_ingested';
    const recordFile = batchRecordPath(this.paths, id);
    const state = await readBrainStateFile(this.paths);
    const exists = rec !== null || (await lstat(recordFile).then(() => true, () => false)) || (state.ok && state.value.active_batches.includes(id));
    if (!exists) return null;
    return `batch_id '${id}' is already a batch (${recordFile}); a submission makes a new batch: leave batch_id out and the brain gives it a new one, or choose an id no batch has`;
  }

  private async allTaskIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const f of TASK_FOLDERS) for (const id of await this.store.list(f)) ids.add(id);
    return ids;
  }

  private stateNow(): BrainState {
    return { active_batches: [...this.batches.keys()], updated_at: this.now(), brain_pid: process.pid, shared_root: this.paths.root };
  }

  private async saveState(): Promise<void> {
    await writeBrainState(this.paths, this.stateNow(), this.movedAside);
  }

  // ---- scanning ----

  /** Updates the index from the folders; reads a task only when it is new or moved. */
  private async scan(): Promise<void> {
    const seen = new Map<string, TaskFolder>();
    const listed = new Map<TaskFolder, Set<string>>();
    this.rigTasks.clear();
    for (const folder of TASK_FOLDERS) {
      const ids = await this.store.list(folder);
      listed.set(folder, new Set(ids));
      for (const id of ids) {
        const batch = batchOfTaskId(id);
        if (this.batches.has(batch)) seen.set(id, folder);
        else if (batch === RIG_BATCH) this.rigTasks.set(id, folder);
      }
    }
    // Moves other hosts' doorbells named that this host's listings do not show yet. A hint
    // overrides a listing only once the file has been read where it says: a listing may be
    // seconds old, a read by name is not, and a stale hint must never hide where a task is.
    const fresh = new Map<string, Task>();
    for (const folder of TASK_FOLDERS) {
      for (const id of this.store.hinted(folder, listed.get(folder)!)) {
        if (!this.batches.has(batchOfTaskId(id))) continue;
        const r = await this.store.read(folder, id);
        if (!r.ok) {
          this.store.dropHint(folder, id);
          continue;
        }
        seen.set(id, folder);
        fresh.set(id, r.task);
      }
    }
    for (const [id, folder] of seen) {
      const prev = this.tasks.get(id);
      if (prev && prev.folder === folder) continue;
      const r = fresh.has(id) ? { ok: true as const, task: fresh.get(id)! } : await this.store.read(folder, id);
      if (!r.ok) continue;
      this.tasks.set(id, { folder, task: r.task });
      if (folder === 'complete') await this.onComplete(r.task);
    }
    const expected = [...this.batches.values()].filter((b) => !FINAL.has(b.state)).flatMap((b) => b.task_ids);
    for (const id of overdueMissing({ expected, seen, since: this.missingSince, now: this.clock.now() })) await this.takeBack(id);
  }

  /** A task of an active batch found in no folder for a minute: taken back from the brain's last view of it. */
  private async takeBack(id: string): Promise<void> {
    const aside = await this.foundAside(id);
    const last = this.tasks.get(id);
    const d = decideTakeBack(last);
    if (d.kind === 'unknown') {
      // Never read by this brain (deleted before it started): made again from its plan, when
      // what the plan makes now is exactly what the batch's seal says was made then.
      const rebuilt = await this.rebuildFromPlan(id);
      if (rebuilt) {
        const t = await this.store.write('private', rebuilt);
        this.tasks.set(id, { folder: 'private', task: t });
        this.missingSince.delete(id);
        await this.decide({ what: 'MISSING', task: id, reason: `found in no folder for ${MISSING_AFTER_MS / 1000} s and never read by this brain${aside}; made again from its plan (it matches the batch's seal) into private/` });
        return;
      }
      if (this.missingReported.has(id)) return;
      this.missingReported.add(id);
      await this.decide({ what: 'MISSING', task: id, reason: `found in no folder for ${MISSING_AFTER_MS / 1000} s and never read by this brain${aside}: it cannot be rebuilt (not in its plan as sealed), so its batch cannot finish; cancel or resubmit the batch` });
      return;
    }
    let into: TaskFolder;
    let t: Task;
    if (d.kind === 'restore') {
      into = d.folder;
      t = await this.store.write(into, d.task);
    } else {
      into = 'failed';
      const attempt = Math.max(1, d.task.attempt);
      const result = { ...this.brainResult(d.task, 'lost', `the task file vanished from ${last!.folder}/ (found in no folder for ${MISSING_AFTER_MS / 1000} s)`), attempt, failure_kind: 'infra' as const };
      const record: AttemptRecord = {
        attempt, agent: d.task.claimed_by ?? 'none', claimed_at: d.task.claimed_at ?? result.started_at, finished_at: result.finished_at,
        outcome: 'lost', failure_kind: 'infra', reason: result.reason, exit_code: null, peak_vram_mb: null,
      };
      t = await this.store.write('failed', { ...d.task, attempt, result, attempts: [...d.task.attempts.filter((a) => a.attempt !== attempt), record] });
    }
    this.tasks.set(id, { folder: into, task: t });
    this.missingSince.delete(id);
    await this.decide({ what: 'MISSING', task: id, reason: `found in no folder for ${MISSING_AFTER_MS / 1000} s (last seen in ${last!.folder}/)${aside}; taken back into ${into}/${d.kind === 'lost' ? ' as a lost attempt (infra)' : ''}` });
  }

  /** The task as its batch's plan makes it, if that matches the batch's seal (a foreach child never does: it comes from a manifest). */
  private async rebuildFromPlan(id: string): Promise<Task | null> {
    const rec = this.batches.get(batchOfTaskId(id));
    const seal = rec ? (this.seals.get(rec.id) ?? (await readSeal(this.paths, rec.id))) : null;
    if (!rec || !seal?.tasks[id]) return null;
    try {
      // Read and parsed in a worker thread within the parse budget, as a submission is: the plan may have changed since.
      const { plan } = await checkPlanBounded(rec.plan_dir, rec.values);
      if (!plan) return null;
      const made = buildBatchTasks(plan, { batchId: rec.id, batchPath: rec.batch_path, values: rec.values, config: this.config, now: Date.parse(rec.submitted_at) });
      const input = made.find((t) => t.id === id);
      if (!input) return null;
      const t = Task.parse(input);
      return taskDigest(t) === seal.tasks[id] ? t : null;
    } catch {
      return null;
    }
  }

  /** Where else a missing task's file may be: quarantine/ and tasks/late_results/, for the log. */
  private async foundAside(id: string): Promise<string> {
    const places: string[] = [];
    for (const [dir, label] of [[this.paths.quarantine, 'quarantine'], [join(this.paths.tasks, 'late_results'), 'tasks/late_results']] as const) {
      const hit = await findFileNamed(dir, id);
      if (hit) places.push(`${label}/${hit}`);
    }
    return places.length ? `; a copy is in ${places.join(' and ')}` : '';
  }

  /** A task newly seen complete: learn its measured VRAM, and let the brain model judge generated text. */
  private async onComplete(t: Task): Promise<void> {
    const learned = learnFrom(this.estimates, t, this.now());
    if (learned) {
      await writeEstimates(this.paths, this.estimates);
      await this.decide({ what: 'LEARN', task: t.id, reason: `${learned.key}: measured peak ${learned.peak} MB (estimate was ${t.vram_estimate_mb} MB); the next batch uses it` });
    }
    const verdict = await this.evaluator.judge(t);
    if (verdict) await this.applyEvaluation(t, verdict);
  }

  private async applyEvaluation(t: Task, v: { score: number; reason: string; model: string; requeue: boolean }): Promise<void> {
    const evaluated = await this.store.write('complete', { ...t, evaluation: { score: v.score, reason: v.reason, model: v.model } });
    if (!v.requeue) {
      this.tasks.set(t.id, { folder: 'complete', task: evaluated });
      await this.decide({ what: 'EVALUATE', task: t.id, reason: `score ${v.score}/5 by ${v.model}: ${v.reason}` });
      return;
    }
    // Below the bar: the attempt counts as an app failure, and the task goes back to the queue.
    const attempts = evaluated.attempts.map((a) => (a.attempt === t.attempt ? { ...a, outcome: 'failed' as const, failure_kind: 'app' as const, reason: `quality score ${v.score}/5: ${v.reason}` } : a));
    const back = await this.store.write('complete', { ...evaluated, attempts });
    if (await this.moveTask(t.id, 'complete', 'queue', back)) {
      const app = attempts.filter((a) => a.failure_kind === 'app').length;
      await this.decide({ what: 'REQUEUE', task: t.id, attempt: { n: app + 1, of: t.max_attempts }, reason: `quality score ${v.score}/5 by ${v.model} is below ${this.config.brain_llm?.min_score}: ${v.reason}` });
    }
  }

  /** Names only: an approval is a file a person touches; nothing in approvals/ is ever opened. */
  private async listApprovals(): Promise<Set<string>> {
    try {
      return new Set(await readdir(this.paths.approvals));
    } catch {
      return new Set();
    }
  }

  // ---- actions ----

  private batchOf(id: string): BatchRecord {
    const b = this.batches.get(id);
    if (!b) throw new Error(`unknown batch ${id}`);
    return b;
  }

  private view(id: string): TaskView {
    const v = this.tasks.get(id);
    if (!v) throw new Error(`unknown task ${id}`);
    return v;
  }

  private async moveTask(id: string, from: TaskFolder, to: TaskFolder, task?: Task): Promise<boolean> {
    const ok = await this.store.move(id, from, to);
    if (ok) this.tasks.set(id, { folder: to, task: task ?? this.view(id).task });
    else this.tasks.delete(id); // someone else moved it: the next scan finds it
    return ok;
  }

  private brainResult(t: Task, outcome: WorkerResult['outcome'], reason: string | null): WorkerResult {
    const now = this.now();
    return {
      task_id: t.id, attempt: Math.max(1, t.attempt), outcome, failure_kind: null, exit_code: null, signal: null,
      reason, started_at: now, finished_at: now, duration_ms: 0, stdout_path: null, stderr_path: null,
    };
  }

  private async updateBatch(id: string, patch: Partial<BatchRecord>): Promise<BatchRecord> {
    const rec = await writeBatchRecord(this.paths, { ...this.batchOf(id), ...patch }, this.movedAside);
    this.batches.set(id, rec);
    return rec;
  }

  private async act(batchId: string, a: BrainAction): Promise<void> {
    switch (a.kind) {
      case 'start_batch': {
        await this.updateBatch(batchId, { state: 'running', started_at: this.now() });
        await this.decide({ what: 'START', batch: batchId, reason: `plan ${this.batchOf(batchId).plan}` });
        return;
      }
      case 'release': {
        const t = this.view(a.id).task;
        if (await this.moveTask(a.id, 'private', 'queue')) {
          await this.decide({ what: 'RELEASE', task: a.id, reason: `${t.task_class} task ${t.name}: ${a.reason}` });
        }
        return;
      }
      case 'retry': {
        let t = this.view(a.id).task;
        if (a.raiseVramTo !== null && a.raiseVramTo > t.vram_estimate_mb) {
          t = await this.store.write('failed', { ...t, vram_estimate_mb: a.raiseVramTo });
        }
        if (await this.moveTask(a.id, 'failed', 'queue', t)) {
          const raised = a.raiseVramTo !== null ? `; estimate raised to ${a.raiseVramTo} MB` : '';
          await this.decide({ what: 'RETRY', task: a.id, attempt: a.attempt, reason: a.reason + raised });
        }
        return;
      }
      case 'give_up': {
        const rec = this.batchOf(batchId);
        await this.updateBatch(batchId, { failed_tasks: [...new Set([...rec.failed_tasks, a.id])] });
        await this.decide({ what: 'GIVE_UP', task: a.id, attempt: a.attempt, reason: a.reason });
        return;
      }
      case 'park': {
        const t = await this.store.write('failed', { ...this.view(a.id).task, parked: 'approval', parked_reason: a.reason });
        if (await this.moveTask(a.id, 'failed', 'private', t)) {
          await this.decide({ what: 'PARK', task: a.id, reason: `${a.reason}; approve with: touch ${join(this.paths.approvals, a.id)}` });
        }
        return;
      }
      case 'unpark': {
        const t = await this.store.write('private', { ...this.view(a.id).task, parked: null, approved: true, result: null });
        this.tasks.set(a.id, { folder: 'private', task: t });
        if (await this.moveTask(a.id, 'private', 'queue', t)) {
          await this.decide({ what: 'APPROVED', task: a.id, reason: 'approval file found; released' });
        }
        return;
      }
      case 'not_run': {
        const cur = this.view(a.id).task;
        const t = await this.store.write('private', { ...cur, result: this.brainResult(cur, 'not_run', a.reason), finished_at: this.now() });
        if (await this.moveTask(a.id, 'private', 'failed', t)) {
          const rec = this.batchOf(batchId);
          await this.updateBatch(batchId, { not_run: [...new Set([...rec.not_run, a.id])] });
          await this.decide({ what: 'NOT_RUN', task: a.id, reason: a.reason });
        }
        return;
      }
      case 'unschedulable': {
        const cur = this.view(a.id).task;
        const t = await this.store.write('private', { ...cur, result: { ...this.brainResult(cur, 'unschedulable', a.reason), failure_kind: 'app' }, finished_at: this.now() });
        if (await this.moveTask(a.id, 'private', 'failed', t)) {
          const rec = this.batchOf(batchId);
          await this.updateBatch(batchId, { failed_tasks: [...new Set([...rec.failed_tasks, a.id])] });
          await this.decide({ what: 'UNSCHEDULABLE', task: a.id, reason: a.reason });
        }
        return;
      }
      case 'expand':
        return this.expand(batchId, a.id);
      case 'close_template': {
        const cur = this.view(a.id).task;
        const to: TaskFolder = a.ok ? 'complete' : 'failed';
        const t = await this.store.write('private', {
          ...cur, result: this.brainResult(cur, a.ok ? 'success' : 'not_run', a.reason), finished_at: this.now(),
        });
        if (await this.moveTask(a.id, 'private', to, t)) {
          await this.decide({ what: a.ok ? 'FOREACH_DONE' : 'FOREACH_FAILED', task: a.id, reason: a.reason });
        }
        return;
      }
      case 'summarize': {
        const rec = this.batchOf(batchId);
        const summary = buildSummary(rec, this.tasks, a.id, this.config);
        const md = await writeSummary(rec.batch_path, summary);
        const cur = this.view(a.id).task;
        const t = await this.store.write('private', {
          ...cur, result: { ...this.brainResult(cur, 'success', null), stdout_path: md }, finished_at: this.now(),
        });
        if (await this.moveTask(a.id, 'private', 'complete', t)) {
          await this.updateBatch(batchId, { summary_path: md });
          await this.decide({ what: 'SUMMARY', batch: batchId, reason: `${summary.counts.complete}/${summary.counts.total} complete; written to ${md}` });
        }
        return;
      }
      case 'finish_batch': {
        await this.updateBatch(batchId, { state: a.state, finished_at: this.now(), final_counts: a.counts });
        const c = a.counts;
        await this.decide({
          what: 'FINISH', batch: batchId,
          reason: `${a.state}: ${c.complete} complete, ${c.failed} failed or not run, of ${c.total}`,
        });
        await this.archive(batchId);
        this.batches.delete(batchId);
        await this.saveState();
        return;
      }
    }
  }

  private async expand(batchId: string, id: string): Promise<void> {
    const template = this.view(id).task;
    const spec = template.foreach!;
    const fail = async (reason: string) => {
      const t = await this.store.write('private', {
        ...template, result: this.brainResult(template, 'not_run', reason), finished_at: this.now(),
      });
      if (await this.moveTask(id, 'private', 'failed', t)) {
        await this.decide({ what: 'FOREACH_FAILED', task: id, reason });
      }
    };
    const items = await readManifestItems(spec.path, spec.key, template.batch_path);
    if (!items.ok) return fail(`foreach could not expand: ${items.error}`);
    const { tasks: children, problems } = expandForeach(template, items.items, this.clock.now());
    if (problems.length) return fail(`foreach could not expand: ${problems.join('; ')}`);
    await this.seal(batchId, template.batch_path, children);
    const existing = await this.allTaskIds();
    // Written WRITE_AHEAD at a time: on a network mount each file is a few round trips, and
    // nobody else reads private/ (so these writes skip the fsync too: store.write).
    const todo = children.filter((c) => !existing.has(c.id));
    for (let i = 0; i < todo.length; i += WRITE_AHEAD) {
      for (const written of await Promise.all(todo.slice(i, i + WRITE_AHEAD).map((c) => this.store.write('private', c)))) {
        this.tasks.set(written.id, { folder: 'private', task: written });
      }
    }
    const rec = this.batchOf(batchId);
    const ids = children.map((c) => c.id);
    await this.updateBatch(batchId, { task_ids: [...new Set([...rec.task_ids, ...ids])] });
    const t = await this.store.write('private', { ...template, expanded_into: ids });
    this.tasks.set(id, { folder: 'private', task: t });
    await this.decide({ what: 'EXPAND', task: id, reason: `${ids.length} items from ${spec.path}${spec.key ? ':' + spec.key : ''}` });
  }

  /** Adds tasks to their batch's seal (brain/seals/<batch>.json), written whole before they can be released. */
  private async seal(batchId: string, batchPath: string, tasks: readonly TaskInput[]): Promise<void> {
    const cur = this.seals.get(batchId) ?? (await readSeal(this.paths, batchId));
    const next = addToSeal(cur, batchId, batchPath, tasks);
    await writeSeal(this.paths, next);
    this.seals.set(batchId, next);
  }

  /**
   * A batch made before seals existed (or whose seal was lost) is sealed from the tasks the
   * brain holds for it, once; from then on its queued files are checked like any other.
   */
  private async ensureSealed(batch: BatchRecord): Promise<void> {
    if (this.seals.has(batch.id)) return;
    const found = await readSeal(this.paths, batch.id);
    if (found) {
      this.seals.set(batch.id, found);
      return;
    }
    const mine = batch.task_ids.flatMap((id) => {
      const v = this.tasks.get(id);
      return v ? [v.task] : [];
    });
    await this.seal(batch.id, batch.batch_path, mine);
    await this.decide({ what: 'SEAL', batch: batch.id, reason: `batch had no seal: sealed the ${mine.length} task(s) found for it` });
  }

  /** Moves a finished batch's task files out of the live folders, so scans stay small. */
  private async archive(batchId: string): Promise<void> {
    const rec = this.batchOf(batchId);
    for (const id of rec.task_ids) {
      const v = this.tasks.get(id);
      const folder = v?.folder;
      if (folder !== 'complete' && folder !== 'failed') continue;
      // From where the brain last saw it, else from wherever it is now among the final folders
      // (a view a move ahead of this host's listing): a finished batch leaves no file behind.
      const moved = await this.store.archive(id, folder, batchId).catch(() => false);
      if (!moved) {
        const other: TaskFolder = folder === 'complete' ? 'failed' : 'complete';
        if (await this.store.exists(other, id)) await this.store.archive(id, other, batchId).catch(() => false);
      }
      this.tasks.delete(id);
    }
  }
}

/** The first file under dir (one level of subfolders) whose name contains the task id, or null. */
async function findFileNamed(dir: string, id: string): Promise<string | null> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.isFile() && e.name.includes(id) && !e.name.endsWith('.why.txt')) return e.name;
    if (e.isDirectory()) {
      const inner = await readdir(join(dir, e.name)).catch(() => [] as string[]);
      const hit = inner.find((n) => n.includes(id) && !n.endsWith('.why.txt'));
      if (hit) return `${e.name}/${hit}`;
    }
  }
  return null;
}
