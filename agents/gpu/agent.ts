// One GPU agent: owns one physical GPU. Observe → decide → act, as the brain does: a fast
// internal cycle (signals, telemetry, health, hot/cold) and a slower external one (runtime
// probe, other agents, heartbeat) observe; decideClaims (pure) says what to claim; this loop
// renames, spawns and writes. Events make it prompt: a worker's exit flushes its result at
// once, and new files in queue/ (or the brain's doorbell) trigger a claim pass.
import type { DecisionVerb } from '../core/decisionLog.ts';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../core/clock.ts';
import type { Config, GpuConfig } from '../core/config.ts';
import { DecisionLog } from '../core/decisionLog.ts';
import { errorMessage } from '../core/errors.ts';
import { readHeartbeats } from '../core/heartbeat.ts';
import { Ticker } from '../core/loop.ts';
import type { MountPaths } from '../core/paths.ts';
import { TaskStore } from '../core/store.ts';
import { Doorbell } from '../core/doorbell.ts';
import { mountPathMismatch } from '../core/batch.ts';
import type { Task, WorkerResult } from '../core/task.ts';
import type { ModelRuntime } from '../llm/runtime.ts';
import type { LoadGate } from '../llm/loadGate.ts';
import { describeSandbox } from '../worker/sandbox.ts';
import { type ClaimView, acceptsNow, availableMb, budgetTotal, claimedMb, decideClaims, needsFreshReading, runsAs } from './decideClaims.ts';
import { applySignals, stopCancelled } from './agentSignals.ts';
import { type Controls, NO_CONTROLS, readControls } from '../core/controls.ts';
import { batchOfTaskId } from '../core/batch.ts';
import { AttemptResults, type Claimed } from './attemptResults.ts';
import { GpuWatch } from './gpuWatch.ts';
import { buildHeartbeat } from './heartbeatView.ts';
import { HeartbeatWriter } from './heartbeatWriter.ts';
import { reclaimOrphans } from './orphans.ts';
import { StartRefused, thisHost } from './previousLife.ts';
import { type QueueWakeups, watchQueue } from './queueWakeups.ts';
import { QueueReader } from './queueReader.ts';
import { RuntimeWatch, modelsHeldByOthers } from './runtimeWatch.ts';
import { withCardShare } from './energy.ts';
import { AgentCounters, writeAgentMetrics } from './agentMetrics.ts';
import { SpareWorker } from './spareWorker.ts';
import { AdapterWatch } from './adapterWatch.ts';
import { declaredModelMb } from '../core/adapterConfig.ts';
import { taskModel } from '../core/config.ts';
import { type Running, type WorkerContext, agentResult, runWorker, stopAll } from './workers.ts';

export interface AgentOptions {
  paths: MountPaths;
  config: Config;
  configFile: string;
  gpu: GpuConfig;
  clock: Clock;
  runtime: ModelRuntime;
  loadGate: LoadGate;
  say?: (line: string) => void;
}

export class GpuAgent {
  readonly name: string;
  private readonly o: AgentOptions;
  private readonly store: TaskStore;
  private readonly log: DecisionLog;
  private readonly say: (line: string) => void;
  private readonly running = new Map<string, Running>();
  private readonly gpu: GpuWatch;
  private readonly llm: RuntimeWatch;
  /** Adapter versions of the models it loads (ollama runtimes; an openai server serves the one model it was started with). */
  private readonly adapters: AdapterWatch | null;
  private readonly results: AttemptResults;
  /** How many tasks the last claim pass saw queued. */
  private queueSeen = 0;
  private readonly queue: QueueReader;
  private readonly beats: HeartbeatWriter;
  private readonly startedAt: number;
  private readonly stats = { tasks_completed: 0, tasks_failed: 0 };
  private readonly counters = new AgentCounters();
  private stopping = false;
  private controls: Controls = NO_CONTROLS;
  /** Models other live agents hold: a cold agent leaves their llm work to them. */
  private othersHold: string[] = [];
  private tickers: Ticker[] = [];
  private claimer: Ticker | null = null;
  private wakeups: QueueWakeups | null = null;
  private readonly bell: Doorbell;
  /** The workers booted ahead of the next tasks (config workers.preboot), else null. */
  private readonly spares: SpareWorker | null;
  private stopped!: () => void;
  /** Resolves when a stop signal's work is done and the agent may exit. */
  readonly finished: Promise<void>;

  constructor(o: AgentOptions) {
    this.o = o;
    this.name = o.gpu.name;
    // Its moves (a task finished, returned) are rung on its doorbell, for a brain on another host.
    this.bell = new Doorbell(o.paths.doorbells, this.name, (err) => this.say(`doorbell not rung: ${errorMessage(err)}`));
    this.store = new TaskStore(o.paths, { unreadableGraceMs: o.config.timeouts.unreadable_grace_s * 1000, now: () => o.clock.now(), bell: this.bell });
    this.queue = new QueueReader({ paths: o.paths, store: this.store, name: this.name, now: () => o.clock.now() });
    this.log = DecisionLog.spool(o.paths, o.gpu.name, () => o.clock.now());
    this.say = o.say ?? ((l) => process.stderr.write(`${this.name}: ${l}\n`));
    this.startedAt = o.clock.now();
    this.finished = new Promise((r) => (this.stopped = r));
    const log = this.agentLog;
    this.gpu = new GpuWatch({ config: o.config, gpu: o.gpu, clock: o.clock, log, running: () => [...this.running.values()] });
    const c = o.config.llm_circuit;
    this.adapters = o.gpu.runtime === 'ollama' ? this.watchAdapters() : null;
    this.llm = new RuntimeWatch({
      runtime: this.adapters?.runtime ?? o.runtime, loadGate: o.loadGate, model: o.gpu.model, swappable: o.gpu.runtime === 'ollama', clock: o.clock,
      modelLoadS: o.config.timeouts.model_load_s, log, refuseLoad: (m) => this.loadRefusal(m),
      circuit: { failureThreshold: c.failures, coolDownMs: c.cool_down_s * 1000, maxCoolDownMs: c.max_cool_down_s * 1000 },
    });
    this.results = new AttemptResults({ paths: o.paths, config: o.config, name: this.name, store: this.store, log });
    this.beats = new HeartbeatWriter(o.paths, (what) => this.agentLog('BAD_FILE', null, what));
    this.spares = o.config.workers.preboot ? new SpareWorker(this.say) : null;
  }

  private get config(): Config {
    return this.o.config;
  }

  async start(): Promise<void> {
    await mkdir(join(this.o.paths.gpus, `gpu_${this.o.gpu.id}`), { recursive: true });
    const elsewhere = await mountPathMismatch(this.o.paths);
    if (elsewhere) throw new StartRefused(`agent ${this.name}: ${elsewhere}`);
    this.beats.seq = await reclaimOrphans({ paths: this.o.paths, config: this.config, gpu: this.o.gpu, store: this.store, clock: this.o.clock, log: this.agentLog });
    await this.gpu.observe();
    await this.llm.refresh();
    await this.writeBeat();
    const onError = (err: unknown) => this.say(`cycle error: ${errorMessage(err)}`);
    const { internal_s, external_s, doorbell_s } = this.config.cycles;
    // Claiming has its own ticker so a burst of queue events coalesces into one scan; its
    // period is the internal cycle: a periodic scan always runs, since file events do not
    // cross a network mount.
    this.claimer = new Ticker(() => this.claim(), { intervalMs: internal_s * 1000, onError });
    this.tickers = [
      new Ticker(() => this.internalCycle(), { intervalMs: internal_s * 1000, onError }),
      new Ticker(() => this.externalCycle(), { intervalMs: external_s * 1000, onError }),
    ];
    for (const t of [...this.tickers, this.claimer]) t.start();
    this.wakeups = await watchQueue({
      paths: this.o.paths, store: this.store, bell: this.bell, doorbellS: doorbell_s, poke: () => this.claimer?.poke(), onError,
      busy: () => this.running.size > 0 || this.queueSeen > 0,
    });
    // Whether its shell tasks will be contained, said once where an operator looks (each worker checks again for itself).
    const sandbox = await describeSandbox(this.config.sandbox);
    await this.agentLog('START', null, `pid ${process.pid}, GPU ${this.o.gpu.id}, model ${this.o.gpu.model}, port ${this.o.gpu.port}; ${sandbox}`);
    this.spares?.prepare(this.workerContext());
  }

  /** The agent's adapter versions: its runtime wrapped, current.json polled, switches at the boundary (adapterWatch.ts). */
  private watchAdapters(): AdapterWatch {
    const o = this.o;
    return new AdapterWatch({
      inner: o.runtime, paths: o.paths, known: () => [o.gpu.model], log: this.agentLog,
      state: () => ({ held: this.llm.held, loading: this.llm.loading, llmRunning: [...this.running.values()].filter((r) => r.task.task_class === 'llm').length }),
      reload: (model) => this.llm.reload(model),
      after: () => {
        void this.writeBeat(undefined, true).catch(() => {});
        this.claimer?.poke();
      },
    });
  }

  // ---- observe ----

  private async internalCycle(): Promise<void> {
    await applySignals({
      paths: this.o.paths, name: this.name, running: this.running, stopping: () => this.stopping, stop: () => (this.stopping = true),
      log: this.agentLog, say: this.say,
    });
    // Only while something runs: an idle agent has nothing to stop (its claim pass reads control/ itself).
    if (this.running.size) {
      this.controls = await readControls(this.o.paths, ['cancel', 'pause']);
      await stopCancelled(this.running, this.controls, this.o.clock.now(), this.config.timeouts.abort_grace_s * 1000, this.agentLog);
    }
    const before = acceptsNow(this.view()).join(',');
    await this.adapters?.check();
    // Idle (nothing running or queued), the GPU is read once per external cycle, not every internal one.
    if (this.gpu.due(this.running.size > 0 || this.queueSeen > 0)) {
      await this.gpu.observe();
      await this.llm.refresh();
    }
    if (acceptsNow(this.view()).join(',') !== before) {
      await this.writeBeat(undefined, true);
      this.claimer?.poke();
    }
    this.maybeFinishStop();
  }

  private async externalCycle(): Promise<void> {
    await this.llm.probe();
    const others = await readHeartbeats(this.o.paths, this.config.gpus.filter((g) => g.id !== this.o.gpu.id).map((g) => g.id));
    const configured = (h: { gpu_id: number }) => this.config.gpus.find((g) => g.id === h.gpu_id)?.model ?? null;
    this.othersHold = modelsHeldByOthers(others, this.o.clock.now(), this.config.timeouts.heartbeat_stale_s * 1000, configured);
    await this.writeBeat();
    this.claimer?.poke();
    const v = this.view();
    await writeAgentMetrics(this.o.paths, this.counters, { name: this.name, gpuId: this.o.gpu.id, gpu: this.gpu.gpu, claimedMb: claimedMb(v.running), hot: v.hot, model: v.heldModel })
      .catch((err: unknown) => this.say(`metrics not written: ${errorMessage(err)}`));
  }

  /** What the claim decision and the heartbeat see. */
  private view(): ClaimView {
    return {
      name: this.name, stopping: this.stopping, health: this.gpu.health.health, hot: this.llm.hot, llmAvailable: this.llm.circuit.state !== 'open' && !this.adapters?.hold,
      heldModel: this.llm.held, othersHold: this.othersHold, numParallel: this.o.gpu.num_parallel,
      modelMb: this.llm.modelMb, gpu: this.gpu.gpu, gpuReadAt: this.gpu.readAt,
      hostMemAvailableMb: this.gpu.host?.mem_available_mb ?? null, running: [...this.running.values()], controls: this.controls,
    };
  }

  // ---- decide and claim ----

  /**
   * Scans queue/ and claims what decideClaims plans, one rename per claim. After each claim
   * (won or lost) it decides again on the rest, from the state as it is then.
   */
  private async claim(): Promise<void> {
    if (!acceptsNow(this.view()).length) return;
    const ids = (await this.store.listHinted('queue')).sort();
    this.queueSeen = ids.length;
    if (needsFreshReading(this.view(), ids.length, this.config, this.o.clock.now())) {
      await this.gpu.observe();
      if (!acceptsNow(this.view()).length) return;
    }
    let queued = await this.queue.read(ids);
    if (!queued.length) return;
    // A promotion written before a task was queued is seen before that task is claimed (only llm tasks run an adapter).
    if (this.adapters && queued.some((q) => q.task.task_class === 'llm')) await this.adapters.check();
    // What no pause or cancel holds back: when nothing of it may be claimed (a full agent, the
    // usual case under load), control/ and processing/ need not be read.
    const open = decideClaims({ ...this.view(), controls: NO_CONTROLS }, queued, this.config);
    for (const s of open.skipped) {
      if (s.rule === 'seal' && this.queue.noteRefusal(s.id, this.o.clock.now())) await this.agentLog('REFUSED', s.id, `${s.reason}; not claimed`);
    }
    if (!open.claims.length) return;
    // Read at each pass with work, just before deciding: nothing of a batch is claimed after its cancel.
    this.controls = await readControls(this.o.paths, ['cancel', 'pause']);
    // What each batch has running on the rig: its turns come after those (fairOrder.ts). With
    // one batch queued the turns do not change its order, and processing/ is not listed.
    const inFlight = new Map<string, number>();
    const countIn = (id: string) => inFlight.set(batchOfTaskId(id), (inFlight.get(batchOfTaskId(id)) ?? 0) + 1);
    if (new Set(queued.map((q) => batchOfTaskId(q.id))).size > 1) for (const id of await this.store.list('processing')) countIn(id);
    for (;;) {
      const plan = decideClaims({ ...this.view(), inFlight }, queued, this.config);
      const next = plan.claims[0];
      if (!next) return;
      // Decided on the version last read: the file as it is now, and decide again if it changed.
      const now = await this.queue.verify(next.id);
      if (now && now.task !== next.task) {
        queued = queued.map((q) => (q.id === next.id ? now : q));
        continue;
      }
      queued = queued.filter((q) => q.id !== next.id);
      if (!now) continue;
      // Lost to another agent (null), or blocked by something in processing/ (the next listing quarantines it): the other tasks go on.
      const claimed = await this.results.claim(now.task, this.queue.known(next.id), this.o.clock.now())
        .catch((err: unknown) => (this.say(`claim of ${next.id} failed: ${errorMessage(err)}`), null));
      if (claimed) {
        this.counters.claimed();
        countIn(next.id);
        await this.begin(claimed, next.cost);
        // The last claim planned: a decision now holds one more task and finds none (a worker
        // that ended meanwhile pokes another pass).
        if (plan.claims.length === 1) return;
      }
    }
  }

  // ---- act ----

  /** After winning the claim, recorded with the new attempt token: run it. */
  private async begin(claimed: Claimed, cost: number): Promise<void> {
    const now = this.o.clock.now();
    const task = claimed.task;
    if (!task) return;
    // Checked again on the file as claimed: it may have been swapped between the read and the
    // rename. The claim changes no sealed field, so the version taken stands for it (and, when
    // it is the version the pass read, its digest is known).
    const sealed = await this.queue.sealOf(claimed.was ?? task);
    if (!sealed.ok) {
      await this.store.quarantineFile('processing', `${task.id}.json`, `claimed by ${this.name} but refused: ${sealed.reason}`);
      await this.agentLog('REFUSED', task.id, `${sealed.reason}; quarantined, not run`);
      return;
    }
    const entry: Running = {
      task, claimedText: claimed.text, kind: runsAs(task), pid: null, taskPgid: null, startedAt: now, cost, peakMb: null, nowMb: 0, stoppedBy: null, done: Promise.resolve(),
      gpuMs: 0, energyJ: 0, accruedTo: now,
    };
    // The card's time is shared from here on among one more task.
    this.gpu.shareCard(now);
    this.running.set(task.id, entry);
    entry.done = this.run(entry);
    // Not waited for: the next claim does not wait for the heartbeat's gap.
    void this.writeBeat().catch(() => {});
  }

  private async run(entry: Running): Promise<void> {
    let result: WorkerResult;
    if (entry.kind === 'meta') {
      const m = await this.llm.runModelTask(entry.task);
      result = agentResult(entry.task, entry.startedAt, this.o.clock.now(), m.outcome, m.failure_kind, m.reason, m.exit_code, null);
    } else {
      const served = entry.task.task_class === 'llm' && this.adapters ? await this.adapters.servedFor(taskModel(entry.task, this.config)) : null;
      result = served && !served.ok
        ? agentResult(entry.task, entry.startedAt, this.o.clock.now(), served.app ? 'failed' : 'error', served.app ? 'app' : 'infra', served.reason, null, null)
        : await runWorker(entry, { ...this.workerContext(), servedModel: served?.name ?? null });
    }
    await this.finish(entry, result);
  }

  private workerContext(): WorkerContext {
    const o = this.o;
    return {
      agent: this.name, configFile: o.configFile, shared: o.paths.root, ollamaUrl: o.runtime.url, gpuId: o.gpu.id,
      model: this.llm.held ?? o.gpu.model, runtime: o.gpu.runtime,
      extraEnv: this.config.worker_env, nice: this.config.workers.nice, now: () => o.clock.now(), onTaskPgid: () => void this.writeBeat().catch(() => {}),
      spares: this.spares, say: this.say,
    };
  }

  /** Flushes a result at once (see AttemptResults.record), then frees the task's slot and claims again. */
  private async finish(entry: Running, result: WorkerResult): Promise<void> {
    this.gpu.shareCard(this.o.clock.now());
    if (result.llm) result = { ...result, llm: withCardShare(result.llm, entry, this.gpu.sawPower) };
    this.counters.finished(result, entry.energyJ);
    try {
      const recorded = await this.results.record(entry.task, entry.startedAt, result, entry.claimedText ?? null);
      if (recorded === 'success') this.stats.tasks_completed += 1;
      else if (recorded === 'failure') this.stats.tasks_failed += 1;
    } finally {
      this.gpu.forget(entry.nowMb);
      this.running.delete(entry.task.id);
      void this.writeBeat().catch(() => {});
      this.claimer?.poke();
      this.maybeFinishStop();
    }
  }

  /** Why a model may not be loaded on this card now: its known size over the budget (whole, or what is left). */
  private loadRefusal(model: string): string | null {
    const size = declaredModelMb(this.config.models, model) ?? this.llm.sizes[model] ?? null;
    if (size === null) return null;
    const v = this.view();
    const whole = budgetTotal(v, this.config);
    if (size > whole) return `${model} needs ${size} MB; this card's whole budget is ${whole} MB (resource_limits.vram_budget_percent)`;
    // The resident model is not counted in what is free (a swap unloads it first).
    const free = availableMb(v, this.config);
    if (size > free) return `${model} needs ${size} MB; ${free} MB of the budget is free now (running tasks hold the rest)`;
    return null;
  }

  // ---- stopping ----

  private maybeFinishStop(): void {
    if (this.stopping && this.running.size === 0) this.stopped();
  }

  /** Ends the agent: stop claiming; with kill=true stop running workers (their tasks fail as infra and are retried). */
  async shutdown(killWorkers: boolean): Promise<void> {
    this.stopping = true;
    this.spares?.stop();
    await this.wakeups?.stop();
    await this.claimer?.stop();
    const running = () => [...this.running.values()];
    if (killWorkers) await stopAll(running);
    else await Promise.all(running().map((r) => r.done));
    for (const t of this.tickers) await t.stop();
    await this.writeBeat('stopping', true).catch(() => {});
    await this.agentLog('EXIT', null, killWorkers ? 'shut down; running tasks returned as infra failures' : 'stopped after finishing its work');
  }

  // ---- heartbeat and log ----

  /** Writes the heartbeat of the agent's state (in order, one at a time, spaced unless urgent: HeartbeatWriter). */
  private writeBeat(state?: 'stopping', urgent = false): Promise<void> {
    return this.beats.write((seq) =>
      buildHeartbeat(
        {
          ...this.view(), gpuId: this.o.gpu.id, pid: process.pid, hostname: thisHost(), startedAt: this.startedAt, seq,
          loading: this.llm.loading, loadingModel: this.llm.loadingModel, loadMs: this.llm.loadMs, runtime: this.o.gpu.runtime,
          gpu: this.gpu.gpu, running: [...this.running.values()], healthReasons: this.gpu.health.reasons,
          circuit: { state: this.llm.circuit.state, reason: this.llm.circuit.reason }, host: this.gpu.host, stats: this.stats,
        },
        this.config, this.o.clock.now(), state,
      ),
      urgent,
    );
  }

  /** One line in the decision log, from this agent (an arrow: the modules are handed it as their log). */
  private readonly agentLog = (what: DecisionVerb, task: string | null, reason: string): Promise<string> => this.log.write({ who: this.name, what, task, reason });
}
