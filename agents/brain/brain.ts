// The brain's loop: take submissions, scan the task folders, decide per batch, act.
// All state is on the mount; the in-memory index (brainIndex.ts) is a cache rebuilt from the folders.
// Each step has its module: intake.ts (submissions), scan.ts and takeBack.ts (where tasks are),
// review.ts (newly complete tasks), decide.ts (pure: what to do) and applyAction.ts (doing it).
import { readdir } from 'node:fs/promises';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { DecisionLog, type DecisionVerb } from '../core/decisionLog.ts';
import { errorMessage } from '../core/errors.ts';
import type { MountPaths, TaskFolder } from '../core/paths.ts';
import { TaskStore } from '../core/store.ts';
import type { Doorbell } from '../core/doorbell.ts';
import { type BatchRecord, batchOfTaskId, readBatchRecordFile, readBrainStateFile, writeBrainState, listBatchIds } from '../core/batch.ts';
import { BadFileNotes } from '../core/badFiles.ts';
import type { ParseBudget } from '../plan/limits.ts';
import { type TaskView, decideBatch } from './decide.ts';
import { AgentWatcher } from './watchAgents.ts';
import { HeatManager } from './heatManager.ts';
import { Evaluator } from './evaluate.ts';
import { readEstimates } from './learn.ts';
import { cleanMountTempFiles } from '../core/leftovers.ts';
import { ObservedAge } from '../core/observedAge.ts';
import { LogMerger, type MergeRound } from './logMerge.ts';
import { Housekeeper } from './housekeeping.ts';
import { BrainIndex, FINAL } from './brainIndex.ts';
import { applyAction } from './applyAction.ts';
import { SubmissionIntake } from './intake.ts';
import { scanFolders } from './scan.ts';
import { MissingTasks } from './takeBack.ts';
import { reviewCompleted } from './review.ts';
import { type Controls, NO_CONTROLS, readControls } from '../core/controls.ts';
import { PauseNotes, applyRetries } from './controls.ts';
import { Scheduler } from './scheduler.ts';
import { BrainMetrics } from './metrics.ts';
import { AskDesk } from './requests.ts';

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

export class Brain {
  readonly store: TaskStore;
  readonly tasks: Map<string, TaskView>;
  readonly batches: Map<string, BatchRecord>;
  private readonly ix: BrainIndex;
  private readonly paths: MountPaths;
  private readonly clock: Clock;
  private readonly say: (line: string) => void;
  private readonly watcher: AgentWatcher;
  private lastWatch = 0;
  private readonly rigTasks = new Map<string, TaskFolder>();
  private readonly missing: MissingTasks;
  private readonly heat: HeatManager;
  private readonly evaluator: Evaluator;
  private lastClean = 0;
  /** How long each temporary file on the mount has been seen unchanged, on the brain's clock. */
  private readonly tempAges = new ObservedAge(() => this.clock.now());
  private readonly badFiles = new BadFileNotes();
  private readonly intake: SubmissionIntake;
  private readonly spool: LogMerger;
  /** How long each failed task's failure has been seen, on the brain's clock: its retry's backoff (a restart waits it again). */
  private readonly failedAges = new ObservedAge(() => this.clock.now());
  private readonly pauses = new PauseNotes();
  private readonly schedules: Scheduler;
  private readonly metrics: BrainMetrics;
  private readonly keeper: Housekeeper;
  /** Realtime questions (requests/): their tasks by folder at the last scan, and the desk that takes and answers them. */
  private readonly askTasks = new Map<string, TaskFolder>();
  private readonly asks: AskDesk;

  constructor(opts: BrainOptions) {
    const { paths, config, clock } = opts;
    this.paths = paths;
    this.clock = clock;
    // private/ is the brain's own: what it cannot read there was never half-written by another process.
    const graceMs = config.timeouts.unreadable_grace_s * 1000;
    this.store = new TaskStore(paths, { unreadableGraceMs: graceMs, now: () => this.clock.now(), ownFolders: ['private'], bell: opts.bell });
    const log = new DecisionLog(paths.decisionLog, () => this.clock.now());
    this.ix = new BrainIndex({ paths, config, clock, store: this.store, log });
    this.tasks = this.ix.tasks;
    this.batches = this.ix.batches;
    this.say = opts.say ?? ((l) => process.stderr.write(l + '\n'));
    this.intake = new SubmissionIntake(this.ix, graceMs, opts.parseBudget, opts.wake ?? (() => {}));
    this.missing = new MissingTasks(this.ix);
    this.watcher = new AgentWatcher({ paths, config, clock, store: this.store, log });
    this.heat = new HeatManager({ paths, config, clock, store: this.store, log });
    this.evaluator = new Evaluator(config, log);
    this.spool = new LogMerger({ paths, log, now: () => this.clock.now(), say: this.say });
    this.schedules = new Scheduler({ paths, clock, decide: (d) => this.ix.decide(d) });
    this.metrics = new BrainMetrics(paths);
    this.keeper = new Housekeeper({
      paths, config, clock, note: (reason) => this.ix.decide({ what: 'HOUSEKEEPING', reason }),
      activeBatches: () => new Set(this.batches.keys()), betweenMerges: (fn) => this.spool.betweenRounds(fn),
    });
    this.asks = new AskDesk({ paths, config, clock, store: this.store, log, say: this.say });
  }

  /** Loads the active batches from the mount (state.json, plus any unfinished batch record). */
  async recover(): Promise<void> {
    this.ix.estimates = await readEstimates(this.paths);
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
      const moved = await writeBrainState(this.paths, this.ix.stateNow());
      await this.badFile('brain/state.json', stateRead.problem, `the active batches were rebuilt from brain/batches/ and the task folders and the file written again${moved ? ' (the old one is in quarantine/brain/)' : ''}`);
    } else if (state?.shared_root !== this.paths.root) {
      // Says at once where this brain has the mount, for agents on other hosts to check theirs against.
      await this.ix.saveState();
    }
    if (this.batches.size) {
      await this.ix.decide({ what: 'RECOVER', reason: `${this.batches.size} active batch(es) from the mount: ${[...this.batches.keys()].join(', ')}` });
    }
  }

  /** Says once in the decision log that a file the brain reads is bad, and what it does about it. */
  private async badFile(rel: string, problem: string, consequence: string): Promise<void> {
    if (this.badFiles.first(rel, problem)) await this.ix.decide({ what: 'BAD_FILE', reason: `${rel}: ${problem}; ${consequence}` });
  }

  /** A decision made outside the pass (at start: the lock taken over from another brain). */
  note(what: DecisionVerb, reason: string): Promise<string> {
    return this.ix.decide({ what, reason });
  }

  /** Merges the other writers' spool files into the logs, at most once a second (logMerge.ts). */
  mergeLogs(): Promise<MergeRound | null> {
    return this.spool.maybeMerge();
  }

  /** Tasks of the active batches in queue/ or processing/ at the last scan: how busy the rig is (main.ts spaces passes by it). */
  inFlight = 0;

  /** A batch has ready tasks held back by release.max_queued: a claim (queue/ to processing/) should start a pass. */
  holdsReleases = false;

  /** The pass made tasks (a foreach expanded, a window's children) that the next pass releases: it should come at once, not at the next tick. */
  followUp = false;

  /** One pass: submissions, a scan of the folders, decisions and actions for every active batch. */
  async pass(): Promise<void> {
    this.followUp = false;
    await this.spool.maybeMerge();
    // Before the intake: a run submitted now becomes a batch in this pass. A schedule must not stop the batches.
    await this.schedules.step().catch((err: unknown) => this.say(`brain: schedules failed: ${errorMessage(err)}`));
    await this.intake.ingestInbox();
    await this.housekeeping();
    await this.scan();
    this.metrics.counters.countFinished(this.tasks, this.clock.now());
    const approvals = await this.listApprovals();
    let controls = await this.readControls();
    await this.pauses.note(this.ix, controls);
    if (controls.retry.size) {
      await applyRetries(this.ix, controls);
      // A retry lifts the cancel of what it retries: read again, so this pass does not cancel it anew.
      controls = await this.readControls();
    }
    const failedForMs = this.failureAges();
    let holding = false;
    let made = false;
    // Higher priority first (sort is stable: by submission within one priority), so its tasks are released first.
    for (const batch of [...this.batches.values()].sort((a, b) => a.priority - b.priority)) {
      if (FINAL.has(batch.state)) {
        // Only after a restart: the previous life finished this batch but died archiving it.
        await this.ix.retire(batch.id);
        await this.ix.decide({ what: 'ARCHIVE', batch: batch.id, reason: `${batch.state} batch archived after a restart interrupted its archiving` });
        continue;
      }
      await this.ix.ensureSealed(batch);
      await this.ix.loadWindowCounts(batch);
      const windows = this.ix.windowViews(batch);
      const actions = decideBatch(batch, this.tasks, approvals, this.ix.config, this.watcher.maxBudgetMb(), (m) => this.heat.sizeOf(m), { failedForMs, controls, windows });
      this.metrics.counters.countActions(actions);
      if (actions.some((a) => a.kind === 'hold')) holding = true;
      for (const action of actions) {
        try {
          const before = this.tasks.size;
          await applyAction(this.ix, batch.id, action);
          // Only tasks really made call for the next pass at once: a failing write must not spin the brain.
          if ((action.kind === 'expand' || action.kind === 'create_children') && this.tasks.size > before) made = true;
        } catch (err) {
          this.say(`brain: ${action.kind} in batch ${batch.id} failed: ${errorMessage(err)}`);
        }
      }
      // Once per pass, not per child: status counts a windowed foreach from the record.
      if (windows.size) await this.ix.publishWindows(batch.id).catch((err: unknown) => this.say(`brain: batch ${batch.id} windows not written: ${errorMessage(err)}`));
    }
    this.holdsReleases = holding;
    this.followUp = made;
    await this.heat.step(this.tasks, this.rigTasks, this.watcher, this.asks.open.values());
    // Metrics must not stop the batches.
    await this.metrics.maybeWrite(this.tasks, this.batches, this.clock.now()).catch((err: unknown) => this.say(`brain: metrics not written: ${errorMessage(err)}`));
  }

  /** Agents and stuck tasks at most once a second; stale temporary files every few minutes; rotation and pruning (housekeeping.ts) as configured. */
  private async housekeeping(): Promise<void> {
    const now = this.clock.now();
    if (now - this.lastWatch >= 1000) {
      this.lastWatch = now;
      // Watching agents must not stop the batches: whatever it meets, the pass goes on.
      await this.watcher.check().catch((err: unknown) => this.say(`brain: watching agents failed: ${errorMessage(err)}`));
      this.ix.telemetry.record(this.watcher.aliveBeats(), now);
    }
    if (now - this.lastClean >= 5 * 60_000) {
      this.lastClean = now;
      // Power loss leaves temporary files behind; one seen unchanged for ten minutes (brain clock) has no live writer.
      const { removed } = await cleanMountTempFiles(this.paths, this.tempAges);
      if (removed.length) await this.ix.decide({ what: 'CLEANUP', reason: `removed ${removed.length} stale temporary file(s) left by an interrupted write` });
    }
    // Logs rotated and old archives, late results, quarantine and sent events pruned (config housekeeping); must not stop the batches.
    await this.keeper.maybeRun().catch((err: unknown) => this.say(`brain: housekeeping failed: ${errorMessage(err)}`));
  }

  /** Updates the index from the folders, then takes back the tasks missing for a minute. */
  private async scan(): Promise<void> {
    const seen = await scanFolders(this.ix, this.rigTasks, (t) => reviewCompleted(this.ix, this.evaluator, t), this.askTasks, this.watcher.processingReads);
    // Questions before batch work: their tasks go to queue/ at priority 0 in this very pass. Must not stop the batches.
    await this.asks.step(this.askTasks).catch((err: unknown) => this.say(`brain: realtime questions failed: ${errorMessage(err)}`));
    let inFlight = 0;
    for (const folder of seen.values()) if (folder === 'queue' || folder === 'processing') inFlight += 1;
    this.inFlight = inFlight;
    await this.missing.check(seen);
  }

  /** control/ (names only); none when it cannot be read now, said once. */
  private async readControls(): Promise<Controls> {
    try {
      return await readControls(this.paths);
    } catch (err) {
      await this.badFile('control/', errorMessage(err), 'controls ignored until it can be read');
      return NO_CONTROLS;
    }
  }

  /** How long each task in failed/ has been seen failed at its current attempt (brain clock, ms). */
  private failureAges(): (id: string) => number {
    const live = new Set<string>();
    for (const [id, v] of this.tasks) if (v.folder === 'failed') live.add(id);
    this.failedAges.keepOnly('', live);
    return (id) => {
      const v = this.tasks.get(id);
      return v ? this.failedAges.observe(id, `${v.task.attempts.length}:${v.task.attempt}`) : 0;
    };
  }

  /** Names only: an approval is a file a person touches; nothing in approvals/ is ever opened. */
  private async listApprovals(): Promise<Set<string>> {
    try {
      return new Set(await readdir(this.paths.approvals));
    } catch {
      return new Set();
    }
  }
}
