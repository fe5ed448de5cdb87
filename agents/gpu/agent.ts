// One GPU agent: owns one physical GPU. A fast internal cycle (signals, telemetry, health,
// hot/cold) and a slower external one (heartbeat, claiming). Events make both prompt: a
// worker's exit flushes its result at once, and new files in queue/ trigger a claim.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { watch, type FSWatcher } from 'node:fs';
import type { Clock } from '../core/clock.ts';
import { isoTime } from '../core/clock.ts';
import type { Config, GpuConfig } from '../core/config.ts';
import { DecisionLog } from '../core/decisionLog.ts';
import { errorMessage } from '../core/errors.ts';
import { type ActiveTask, readHeartbeat, readHeartbeats, waitForHeartbeats, writeHeartbeat } from '../core/heartbeat.ts';
import { Ticker } from '../core/loop.ts';
import { type MountPaths, heartbeatPath } from '../core/paths.ts';
import { readSignals, removeSignal } from '../core/signals.ts';
import { type ReplaceOutcome, TaskStore } from '../core/store.ts';
import { TaskCache } from '../core/taskCache.ts';
import { BellReader, Doorbell, startBellWatch } from '../core/doorbell.ts';
import { SealCache } from '../core/seal.ts';
import { mountPathMismatch } from '../core/batch.ts';
import { type AttemptRecord, type Task, type TaskClass, type WorkerResult, holdsOpenClaim, sameClaim } from '../core/task.ts';
import { isTempName, writeJsonAtomic } from '../core/atomic.ts';
import { type ModelRuntime, RuntimeError, isRuntimeDown } from '../llm/runtime.ts';
import { CircuitBreaker } from '../llm/circuit.ts';
import type { LoadGate } from '../llm/loadGate.ts';
import { parseTaskPidLine, parseWorkerStdout } from '../core/workerProtocol.ts';
import { describeSandbox } from '../worker/sandbox.ts';
import { readGpuTelemetry } from './readTelemetry.ts';
import { readHostStats } from './hostStats.ts';
import { formatThrottleStatus } from './telemetry.ts';
import { type Health, acceptedClasses, budgetAvailable, canClaim, evaluateHealth, recordClaim, taskCost } from './claimPolicy.ts';
import { killGroup, spawnWorker } from './spawnWorker.ts';
import { isAlive } from '../core/pids.ts';
import { processGroupOf, processesOfAttempt, processesOfAttempts } from './procGroup.ts';
import { AgentNameTaken, StartRefused, isAgentProcess, judgePreviousLife, thisHost } from './previousLife.ts';

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

interface Running {
  task: Task;
  kind: 'worker' | 'meta';
  pid: number | null;
  /** The task's own process group, which the worker reports on its stderr. */
  taskPgid: number | null;
  startedAt: number;
  cost: number;
  /** Highest measured VRAM of the worker's processes, MB. */
  peakMb: number | null;
  /** What the worker's processes hold now, MB. */
  nowMb: number;
  /** Set when the agent itself stops the task (signal, shutdown). */
  stoppedBy: 'abort' | 'kill' | 'shutdown' | null;
  done: Promise<void>;
}

export class GpuAgent {
  readonly name: string;
  private readonly o: AgentOptions;
  private readonly store: TaskStore;
  private readonly log: DecisionLog;
  private readonly say: (line: string) => void;
  private readonly running = new Map<string, Running>();
  private readonly circuit = new CircuitBreaker();
  /** When the GPU was last read (agent clock), and how many tasks the last claim pass saw queued. */
  private gpuReadAt = 0;
  private queueSeen = 0;
  private gpuReading: Promise<void> | null = null;
  /** queue/'s tasks as last parsed: a claim pass re-reads only the files that changed. */
  private readonly queued: TaskCache;
  /** The brain's seals: a queued file runs only when it is what the brain released. */
  private readonly seals: SealCache;
  /**
   * Queued files refused for their seal: when first refused, and whether logged. Logged once,
   * and only when still refused seconds later, so a task that reached the queue just before
   * this agent re-read its seal is never reported as a forgery.
   */
  private readonly refused = new Map<string, { since: number; logged: boolean }>();
  private seq = 0;
  /** The heartbeat write in progress, if any (writeBeat). */
  private beats: Promise<void> = Promise.resolve();
  private readonly startedAt: number;
  private stats = { tasks_completed: 0, tasks_failed: 0 };
  private telemetry: Awaited<ReturnType<typeof readGpuTelemetry>> | null = null;
  private health: { health: Health; reasons: string[] } = { health: 'unhealthy', reasons: ['no telemetry yet'] };
  private hot = false;
  private modelMb = 0;
  private loading = false;
  private host: { cpu_load_percent: number | null; mem_available_mb: number | null } | null = null;
  private stopping = false;
  /** Another live agent holds its model: llm work waits for it instead of loading a second copy. */
  private othersHot = false;
  private internal: Ticker | null = null;
  private external: Ticker | null = null;
  private claimer: Ticker | null = null;
  private watcher: FSWatcher | null = null;
  private bells: Ticker | null = null;
  private readonly bell: Doorbell;
  private stopped!: () => void;
  /** Resolves when a stop signal's work is done and the agent may exit. */
  readonly finished: Promise<void>;

  constructor(o: AgentOptions) {
    this.o = o;
    this.name = o.gpu.name;
    // Its moves (a task finished, returned) are rung on its doorbell, for a brain on another host.
    this.bell = new Doorbell(o.paths.doorbells, this.name, (err) => this.say(`doorbell not rung: ${errorMessage(err)}`));
    this.store = new TaskStore(o.paths, { unreadableGraceMs: o.config.timeouts.unreadable_grace_s * 1000, now: () => o.clock.now(), bell: this.bell });
    this.queued = new TaskCache(this.store, 'queue');
    this.seals = new SealCache(o.paths, () => o.clock.now());
    this.log = DecisionLog.spool(o.paths, o.gpu.name, () => o.clock.now());
    this.say = o.say ?? ((l) => process.stderr.write(`${this.name}: ${l}\n`));
    this.startedAt = o.clock.now();
    this.finished = new Promise((r) => (this.stopped = r));
  }

  private get config(): Config {
    return this.o.config;
  }

  async start(): Promise<void> {
    await mkdir(join(this.o.paths.gpus, `gpu_${this.o.gpu.id}`), { recursive: true });
    const elsewhere = await mountPathMismatch(this.o.paths);
    if (elsewhere) throw new StartRefused(`agent ${this.name}: ${elsewhere}`);
    await this.reclaimOrphans();
    await this.observe();
    await this.writeBeat();
    const onError = (err: unknown) => this.say(`cycle error: ${errorMessage(err)}`);
    this.internal = new Ticker(() => this.internalCycle(), { intervalMs: this.config.cycles.internal_s * 1000, onError });
    this.external = new Ticker(() => this.externalCycle(), { intervalMs: this.config.cycles.external_s * 1000, onError });
    // Claiming has its own ticker so a burst of queue events coalesces into one scan; its
    // period is the internal cycle: a periodic scan always runs, since file events do not
    // cross a network mount.
    this.claimer = new Ticker(() => this.claim(), { intervalMs: this.config.cycles.internal_s * 1000, onError });
    this.internal.start();
    this.external.start();
    this.claimer.start();
    // fs.watch on the folder itself (chokidar re-reads the whole folder on every event).
    this.watcher = watch(this.o.paths.folders.queue, (_event, name) => {
      if (name === null || !isTempName(String(name))) this.claimer?.poke();
    });
    this.watcher.on('error', () => {});
    // The brain's doorbell: a release made on another host (no file event crosses the mount, and
    // this host's listing of queue/ may be seconds old) is claimed within doorbell_s.
    await this.bell.announce();
    this.bells = startBellWatch(new BellReader({ dir: this.o.paths.doorbells, sources: ['brain'], now: () => performance.now() }), this.store, {
      intervalMs: this.config.cycles.doorbell_s * 1000,
      wake: (news) => {
        if (news.rescan || news.moved.some((e) => e.to === 'queue')) this.claimer?.poke();
      },
      onError,
    });
    // Whether its shell tasks will be contained, said once where an operator looks (each worker checks again for itself).
    const sandbox = await describeSandbox(this.config.sandbox);
    await this.agentLog('START', null, `pid ${process.pid}, GPU ${this.o.gpu.id}, model ${this.o.gpu.model}, port ${this.o.gpu.port}; ${sandbox}`);
  }

  // ---- observation ----

  private async internalCycle(): Promise<void> {
    await this.handleSignals();
    const before = this.acceptsNow().join(',');
    if (this.gpuReadingDue()) {
      await this.observeGpu();
      await this.readHotState();
    }
    if (this.acceptsNow().join(',') !== before) {
      await this.writeBeat();
      this.claimer?.poke();
    }
    this.maybeFinishStop();
  }

  private async externalCycle(): Promise<void> {
    await this.probeRuntime();
    await this.readOthers();
    await this.writeBeat();
    this.claimer?.poke();
  }

  /** Telemetry, health, per-worker VRAM, host figures, and hot/cold as the runtime reports it. */
  private async observe(): Promise<void> {
    await this.observeGpu();
    await this.readHotState();
  }

  /**
   * Whether the internal cycle reads the GPU and asks the runtime what it holds now. An agent
   * with nothing running and nothing queued does so once per external cycle (what its heartbeat
   * shows), not every internal one: each reading is a process and a request, and an idle rig
   * should cost next to nothing. A claim pass that finds work reads the GPU first when the
   * reading is old (see claim()).
   */
  private gpuReadingDue(): boolean {
    if (this.running.size > 0 || this.queueSeen > 0 || !this.telemetry?.ok) return true;
    return this.o.clock.now() - this.gpuReadAt >= this.config.cycles.external_s * 1000;
  }

  /** Telemetry, health, per-worker VRAM and host figures; one reading at a time (the cycle and a claim pass may both ask). */
  private observeGpu(): Promise<void> {
    this.gpuReading ??= this.readGpu().finally(() => {
      this.gpuReading = null;
    });
    return this.gpuReading;
  }

  private async readGpu(): Promise<void> {
    this.gpuReadAt = this.o.clock.now();
    // worker_env also reaches nvidia-smi: a simulator finds its state through it. Compute
    // processes are listed only while a worker runs: they are read to measure workers.
    const snap = await readGpuTelemetry(this.config.nvidia_smi, this.o.gpu.id, { env: this.config.worker_env, apps: this.running.size > 0 });
    const prevHealth = this.health;
    this.telemetry = snap;
    if (snap.ok) {
      const g = snap.gpu;
      this.health = evaluateHealth(
        { temperature_c: g.temperature_c, power_draw_w: g.power_draw_w, memory_used_mb: g.memory_used_mb, memory_total_mb: g.memory_total_mb },
        null,
        this.config.resource_limits,
      );
      await this.measureWorkers(snap.procs);
    } else {
      this.health = evaluateHealth(null, snap.reason, this.config.resource_limits);
    }
    const kinds = (r: string[]) => r.map((x) => x.split(' ')[0]).join();
    if (prevHealth.health !== this.health.health || kinds(prevHealth.reasons) !== kinds(this.health.reasons)) {
      const what = this.health.health === 'healthy' ? 'HEALTHY' : this.health.health === 'constrained' ? 'CONSTRAINED' : 'UNHEALTHY';
      await this.agentLog(what, null, this.health.reasons.join('; ') || 'all figures under their limits');
    }
    this.host = await readHostStats().catch(() => null);
  }

  private async measureWorkers(procs: Array<{ pid: number; used_memory_mb: number | null }>): Promise<void> {
    for (const r of this.running.values()) r.nowMb = 0;
    for (const p of procs) {
      const group = await processGroupOf(p.pid);
      for (const r of this.running.values()) {
        if (r.pid !== null && (p.pid === r.pid || group === r.pid || (r.taskPgid !== null && group === r.taskPgid))) {
          r.nowMb += p.used_memory_mb ?? 0;
        }
      }
    }
    for (const r of this.running.values()) {
      if (r.nowMb > (r.peakMb ?? 0)) r.peakMb = r.nowMb;
      // A worker that goes over its estimate is counted at its real figure.
      if (r.peakMb !== null && r.peakMb > r.cost && r.task.task_class === 'script') r.cost = r.peakMb;
    }
  }

  private async readHotState(): Promise<void> {
    if (!this.circuit.canUse(this.o.clock.now())) {
      // A runtime that does not answer holds no usable model: the agent is cold until it does.
      if (this.circuit.state === 'open') this.setHot(false, 0);
      return;
    }
    try {
      const loaded = await this.o.runtime.listLoaded();
      this.noteRuntime(true, null);
      const mine = loaded.find((m) => this.o.runtime.sameModel(m.name, this.o.gpu.model));
      this.setHot(Boolean(mine), mine?.size_vram_mb ?? 0);
    } catch (err) {
      this.noteRuntime(false, errorMessage(err));
      this.setHot(false, 0);
    }
  }

  private setHot(hot: boolean, mb: number): void {
    if (hot !== this.hot) void this.agentLog(hot ? 'HOT' : 'COLD', null, hot ? `${this.o.gpu.model} resident (${mb} MB)` : `${this.o.gpu.model} not loaded`);
    this.hot = hot;
    this.modelMb = mb;
  }

  private async probeRuntime(): Promise<void> {
    if (!this.circuit.canUse(this.o.clock.now())) return;
    const h = await this.o.runtime.health().catch((err) => ({ ok: false, reason: errorMessage(err) }));
    this.noteRuntime(h.ok, h.reason);
    if (!h.ok) this.setHot(false, 0);
  }

  /** Every runtime outcome goes through here, so each circuit transition is logged once, with why. */
  private noteRuntime(ok: boolean, reason: string | null): void {
    const before = this.circuit.state;
    if (ok) this.circuit.recordSuccess();
    else this.circuit.recordFailure(this.o.clock.now(), reason ?? 'runtime not healthy');
    if (before !== this.circuit.state) {
      void this.agentLog(`LLM_${this.circuit.state.toUpperCase()}`, null, ok ? 'runtime answers again' : (this.circuit.reason ?? 'runtime failing'));
    }
  }

  private async readOthers(): Promise<void> {
    const staleMs = this.config.timeouts.heartbeat_stale_s * 1000;
    const others = await readHeartbeats(this.o.paths, this.config.gpus.filter((g) => g.id !== this.o.gpu.id).map((g) => g.id));
    this.othersHot = others.some(
      (h) => (h.model_loaded || h.state === 'loading') && h.health === 'healthy' && !h.stopping && this.o.clock.now() - Date.parse(h.last_updated) < staleMs,
    );
  }

  // ---- budget and claiming ----

  private budgetTotal(): number {
    const total = this.telemetry?.ok ? (this.telemetry.gpu.memory_total_mb ?? 0) : 0;
    // No telemetry: no GPU work, but cpu tasks still get a virtual budget of four slots.
    if (!total) return this.config.resource_limits.cpu_task_cost_mb * 4;
    return Math.floor((total * this.config.resource_limits.vram_budget_percent) / 100);
  }

  private claimedMb(): number {
    let sum = 0;
    for (const r of this.running.values()) sum += Math.max(r.cost, r.peakMb ?? 0);
    return sum;
  }

  private availableMb(): number {
    const g = this.telemetry?.ok ? this.telemetry.gpu : null;
    if (!g || !g.memory_total_mb) return Math.max(0, this.budgetTotal() - this.claimedMb());
    let ours = 0;
    for (const r of this.running.values()) ours += r.nowMb;
    return budgetAvailable(
      { totalMb: g.memory_total_mb, usedMb: g.memory_used_mb ?? 0, oursUsedMb: ours, modelMb: this.hot ? this.modelMb : 0, claimedMb: this.claimedMb() },
      this.config.resource_limits.vram_budget_percent,
    );
  }

  private acceptsNow(): TaskClass[] {
    if (this.stopping) return [];
    return acceptedClasses(this.health.health, this.hot, this.circuit.state !== 'open');
  }

  /** Scans queue/ and claims what fits, one rename per claim. */
  private async claim(): Promise<void> {
    if (this.stopping) return;
    let accepts = this.acceptsNow();
    if (!accepts.length) return;
    const ids = (await this.store.listHinted('queue')).sort();
    this.queued.keepOnly(ids);
    this.queueSeen = ids.length;
    // Work after an idle spell: decide on a fresh reading, not one up to an external cycle old.
    if (ids.length && this.o.clock.now() - this.gpuReadAt > 2 * this.config.cycles.internal_s * 1000) {
      await this.observeGpu();
      accepts = this.acceptsNow();
      if (!accepts.length) return;
    }
    // Counted once per pass and after each claim, not per queued file (a pass may look at thousands).
    let load = this.load();
    for (const id of ids) {
      if (this.stopping) return;
      const available = this.availableMb();
      const task = await this.queued.read(id);
      if (!task) continue;
      if (task.target && task.target !== this.name) continue;
      const sealed = await this.seals.verdict(task);
      if (!sealed.ok) {
        await this.refuseOnce(task.id, sealed.reason);
        continue;
      }
      // An llm task goes to an agent that already holds its model, so a mixed queue does not swap models.
      if (task.task_class === 'llm' && !this.hot && (this.othersHot || !this.config.cold_agents_take_llm)) continue;
      const verdict = canClaim(
        task,
        {
          accepts,
          availableMb: available,
          budgetTotalMb: this.budgetTotal(),
          hot: this.hot,
          runningLlm: load.llm,
          runningWorkers: load.workers,
          hostMemAvailableMb: this.host?.mem_available_mb ?? null,
          stopping: this.stopping,
        },
        this.config,
      );
      if (!verdict.ok) continue;
      // Lost to another agent (false), or blocked by something in processing/ (the next listing quarantines it): the other tasks go on.
      const won = await this.store.claim(id).catch((err: unknown) => (this.say(`claim of ${id} failed: ${errorMessage(err)}`), false));
      if (!won) continue;
      await this.begin(task, verdict.cost);
      load = this.load();
    }
  }

  private async refuseOnce(id: string, reason: string): Promise<void> {
    const now = this.o.clock.now();
    const seen = this.refused.get(id);
    if (!seen) {
      if (this.refused.size > 10_000) this.refused.clear();
      this.refused.set(id, { since: now, logged: false });
      return;
    }
    if (seen.logged || now - seen.since < 2000) return;
    seen.logged = true;
    await this.agentLog('REFUSED', id, `${reason}; not claimed`);
  }

  /** llm tasks and workers running now (meta tasks run inside the agent: no worker). */
  private load(): { llm: number; workers: number } {
    let llm = 0;
    let workers = 0;
    for (const r of this.running.values()) {
      if (r.task.task_class === 'llm') llm += 1;
      if (r.kind === 'worker') workers += 1;
    }
    return { llm, workers };
  }

  /** After winning the claim: record who holds it with the new attempt token, then run it. */
  private async begin(queued: Task, cost: number): Promise<void> {
    const now = this.o.clock.now();
    // Only the claim this agent saw: if it was undone meanwhile (the brain released it as
    // unclaimed) and another agent claimed it, the file now carries that agent's token.
    const r = await this.replaceOwn(queued.id, (cur) => recordClaim(cur, queued, this.name, isoTime(now)));
    if (!r.ok) {
      await this.agentLog('CLAIM_LOST', queued.id, r.reason === 'declined' ? 'another claim of this task was recorded first; not run' : `the task left processing/ before the claim was recorded (${r.reason}); not run`);
      return;
    }
    const task = r.task;
    // Checked again on the file as claimed: it may have been swapped between the read and the rename.
    const sealed = await this.seals.verdict(task);
    if (!sealed.ok) {
      await this.store.quarantineFile('processing', `${task.id}.json`, `claimed by ${this.name} but refused: ${sealed.reason}`);
      await this.agentLog('REFUSED', task.id, `${sealed.reason}; quarantined, not run`);
      return;
    }
    const entry: Running = {
      task, kind: task.executor === 'agent' || task.task_class === 'meta' ? 'meta' : 'worker',
      pid: null, taskPgid: null, startedAt: now, cost, peakMb: null, nowMb: 0, stoppedBy: null, done: Promise.resolve(),
    };
    this.running.set(task.id, entry);
    entry.done = entry.kind === 'meta' ? this.runMeta(entry) : this.runWorker(entry);
    await this.writeBeat();
  }

  // ---- running ----

  private async runWorker(entry: Running): Promise<void> {
    const t = entry.task;
    const proc = spawnWorker({
      taskJson: JSON.stringify(t),
      agent: this.name,
      taskId: t.id,
      attempt: t.attempt,
      configFile: this.o.configFile,
      shared: this.o.paths.root,
      ollamaUrl: this.o.runtime.url,
      gpuId: this.o.gpu.id,
      model: this.o.gpu.model,
      extraEnv: this.config.worker_env,
    });
    entry.pid = proc.pid ?? null;
    proc.stderr?.on('data', (chunk: Buffer) => {
      const pgid = parseTaskPidLine(chunk.toString());
      if (pgid !== null && entry.taskPgid === null) {
        entry.taskPgid = pgid;
        void this.writeBeat().catch(() => {});
      }
    });
    const res = await proc;
    let result: WorkerResult;
    const parsed = parseWorkerStdout(String(res.stdout ?? ''), t.id, t.attempt);
    if (parsed.ok) {
      result = parsed.result;
    } else {
      const why = entry.stoppedBy
        ? `${entry.stoppedBy === 'shutdown' ? 'agent shut down' : entry.stoppedBy + ' signal'}: worker stopped`
        : `worker gave no valid result (${parsed.reason}); exit ${res.exitCode ?? res.signal}; ${String(res.stderr ?? '').slice(-400)}`;
      result = this.synthResult(t, entry.stoppedBy ? 'killed' : 'error', 'infra', why, res.exitCode ?? null, res.signal ?? null);
      // The worker died without a result; its task runs on in its own process group and would
      // run beside the retry: end it now.
      if (entry.taskPgid !== null && isAlive(entry.taskPgid)) killGroup(entry.taskPgid, 'SIGKILL');
      // It may have died after starting its task but before reporting the task's pid.
      for (const pid of await processesOfAttempt(this.name, t.id, t.attempt)) killGroup(pid, 'SIGKILL');
    }
    if (entry.stoppedBy && result.outcome !== 'success') {
      result = { ...result, outcome: 'killed', failure_kind: 'infra', reason: `${entry.stoppedBy}: ${result.reason ?? ''}`.trim() };
    }
    result = { ...result, peak_vram_mb: entry.peakMb ?? result.peak_vram_mb ?? null };
    await this.finish(entry, result);
  }

  private async runMeta(entry: Running): Promise<void> {
    const t = entry.task;
    const model = t.model ?? this.o.gpu.model;
    let result: WorkerResult;
    try {
      if (t.type === 'load_llm') {
        this.loading = true;
        await this.o.loadGate.withLoadSlot(
          async () => {
            await this.agentLog('LOAD', t.id, `loading ${model} through ${this.o.runtime.url}`);
            await this.o.runtime.load(model, { signal: AbortSignal.timeout(this.config.timeouts.model_load_s * 1000) });
          },
          { onWait: () => void this.agentLog('LOAD_WAIT', t.id, 'another GPU is loading a model; loads are serialised') },
        );
      } else if (t.type === 'unload_llm') {
        await this.o.runtime.unload(model);
      } else {
        throw new Error(`meta task type ${t.type} is not known to the agent (load_llm, unload_llm)`);
      }
      this.noteRuntime(true, null);
      await this.readHotState();
      result = this.synthResult(t, 'success', null, `${t.type} ${model}: agent is ${this.hot ? 'hot' : 'cold'}`, 0, null);
    } catch (err) {
      const oom = err instanceof RuntimeError && err.kind === 'oom';
      // Only an outage counts against the runtime's circuit; a model too big for the card does not.
      if (isRuntimeDown(err)) this.noteRuntime(false, errorMessage(err));
      result = this.synthResult(t, oom ? 'oom' : 'error', 'infra', `${t.type} ${model} failed: ${errorMessage(err)}`, null, null);
    } finally {
      this.loading = false;
    }
    await this.finish(entry, result);
  }

  private synthResult(t: Task, outcome: WorkerResult['outcome'], kind: WorkerResult['failure_kind'], reason: string | null, exit: number | null, signal: string | null): WorkerResult {
    const started = this.running.get(t.id)?.startedAt ?? this.o.clock.now();
    const now = this.o.clock.now();
    return {
      task_id: t.id, attempt: t.attempt, outcome, failure_kind: kind, exit_code: exit, signal, reason,
      started_at: isoTime(started), finished_at: isoTime(now), duration_ms: now - started, stdout_path: null, stderr_path: null,
    };
  }

  /** Flushes a result at once: checks the claim token, writes the task whole, then one rename. */
  private async finish(entry: Running, result: WorkerResult): Promise<void> {
    const t = entry.task;
    try {
      const record: AttemptRecord = {
        attempt: t.attempt, agent: this.name, claimed_at: t.claimed_at ?? isoTime(entry.startedAt), finished_at: result.finished_at,
        outcome: result.outcome, failure_kind: result.failure_kind, reason: result.reason, exit_code: result.exit_code,
        peak_vram_mb: result.peak_vram_mb ?? null,
      };
      const ok = result.outcome === 'success';
      const r = await this.replaceOwn(t.id, (cur) =>
        sameClaim(cur, t)
          ? { ...cur, result, finished_at: result.finished_at, attempts: [...cur.attempts.filter((a) => a.attempt !== t.attempt), record] }
          : null,
        ok ? 'complete' : 'failed');
      if (!r.ok) {
        await this.keepLateResult(t, result, r.reason);
        return;
      }
      const done = r.task;
      if (ok) this.stats.tasks_completed += 1;
      else this.stats.tasks_failed += 1;
      if (!ok) await this.agentLog('TASK_FAILED', t.id, `${result.outcome}${result.failure_kind ? ` (${result.failure_kind})` : ''}: ${result.reason ?? ''}`.slice(0, 400), done);
    } finally {
      this.forgetMemoryOf(entry);
      this.running.delete(t.id);
      await this.writeBeat().catch(() => {});
      this.claimer?.poke();
      this.maybeFinishStop();
    }
  }

  /**
   * replace() of this agent's own claim in processing/. A file that reads torn for longer than
   * the store's own retries (an NFS client's stale view of a file just replaced) is tried again
   * once a second, until it reads or the store gives up on it after unreadable_grace_s: a
   * result is never set aside, nor a claim dropped, for a read that would have worked later.
   */
  private async replaceOwn(id: string, change: Parameters<TaskStore['replace']>[2], to?: 'complete' | 'failed'): Promise<ReplaceOutcome> {
    const tries = Math.ceil(this.config.timeouts.unreadable_grace_s) + 5;
    for (let i = 0; ; i++) {
      const r = await this.store.replace('processing', id, change, to);
      if (r.ok || r.reason !== 'unreadable' || i >= tries) return r;
      await new Promise((done) => setTimeout(done, 1000));
    }
  }

  /**
   * A finished worker's memory leaves the last telemetry reading too: until the next reading it
   * would otherwise count as memory that is not ours and shrink the budget for no reason.
   */
  private forgetMemoryOf(entry: Running): void {
    const snap = this.telemetry;
    if (!snap?.ok || entry.nowMb <= 0 || snap.gpu.memory_used_mb === null) return;
    snap.gpu.memory_used_mb = Math.max(0, snap.gpu.memory_used_mb - entry.nowMb);
  }

  /** A result for a claim that is no longer ours (the brain presumed us dead): kept aside, never applied. */
  private async keepLateResult(t: Task, result: WorkerResult, why: Exclude<ReplaceOutcome, { ok: true }>['reason']): Promise<void> {
    const dir = join(this.o.paths.tasks, 'late_results');
    await mkdir(dir, { recursive: true });
    await writeJsonAtomic(join(dir, `${t.id}.attempt${t.attempt}.${this.name}.json`), { task: t, result });
    const how = {
      gone: 'the task left processing/ before the result was recorded',
      declined: 'the task holds another claim now',
      quarantined: 'the task file in processing/ was not a task and went to quarantine/',
      unreadable: `the task file in processing/ could not be read for ${this.config.timeouts.unreadable_grace_s} s`,
    }[why];
    await this.agentLog('LATE_RESULT', t.id, `attempt ${t.attempt} finished (${result.outcome}), but ${how}; kept in tasks/late_results, not applied`);
  }

  // ---- signals, stopping, orphans ----

  private async handleSignals(): Promise<void> {
    for (const sig of await readSignals(this.o.paths, this.name)) {
      if (sig.refused) {
        await this.agentLog(`${sig.kind.toUpperCase()}_REFUSED`, null, `${sig.refused}; moved to quarantine/signals/`);
      } else if (sig.kind === 'stop') {
        if (!this.stopping) await this.agentLog('STOP', null, `stop signal: finishing ${this.running.size} task(s), then exiting`);
        this.stopping = true;
      } else if (sig.taskId) {
        const r = this.running.get(sig.taskId);
        if (r) {
          r.stoppedBy = sig.kind;
          if (sig.kind === 'kill') this.killAll(r, 'SIGKILL');
          else if (r.pid !== null) killGroup(r.pid, 'SIGTERM'); // the worker stops its task and reports
          await this.agentLog(sig.kind.toUpperCase(), sig.taskId, sig.kind === 'kill' ? 'SIGKILL to the worker group' : 'SIGTERM to the worker');
        } else {
          await this.agentLog(`${sig.kind.toUpperCase()}_IGNORED`, sig.taskId, 'no such task running here');
        }
      }
      await removeSignal(this.o.paths, sig).catch((err) => this.say(`signal ${sig.file} could not be removed: ${errorMessage(err)}`));
    }
  }

  /** The worker's group and its task's group: SIGKILL to the worker alone would leave the task running. */
  private killAll(r: Running, sig: NodeJS.Signals): void {
    if (r.taskPgid !== null) killGroup(r.taskPgid, sig);
    if (r.pid !== null) killGroup(r.pid, sig);
  }

  private maybeFinishStop(): void {
    if (this.stopping && this.running.size === 0) this.stopped();
  }

  /** Ends the agent: stop claiming; with kill=true stop running workers (their tasks fail as infra and are retried). */
  async shutdown(killWorkers: boolean): Promise<void> {
    this.stopping = true;
    this.watcher?.close();
    await this.bells?.stop();
    await this.claimer?.stop();
    if (killWorkers) {
      for (const r of this.running.values()) {
        r.stoppedBy = 'shutdown';
        if (r.pid !== null) killGroup(r.pid, 'SIGTERM');
      }
      const grace = setTimeout(() => {
        for (const r of this.running.values()) this.killAll(r, 'SIGKILL');
      }, 3000);
      await Promise.all([...this.running.values()].map((r) => r.done));
      clearTimeout(grace);
    } else {
      await Promise.all([...this.running.values()].map((r) => r.done));
    }
    await this.internal?.stop();
    await this.external?.stop();
    await this.writeBeat('stopping').catch(() => {});
    await this.agentLog('EXIT', null, killWorkers ? 'shut down; running tasks returned as infra failures' : 'stopped after finishing its work');
  }

  /**
   * A restarted agent cleans up after its previous life: kills that life's workers (freeing
   * GPU memory) and returns their tasks at once instead of after the stale timeout. The
   * heartbeat it reads is only a hint (anyone can write the mount): a process is killed only
   * when its environment proves it ran one of this agent's attempts on this host. A heartbeat
   * whose agent still runs here means a second agent of the same name: refused.
   */
  private async reclaimOrphans(): Promise<void> {
    const prev = await readHeartbeat(this.o.paths, this.o.gpu.id);
    const life = judgePreviousLife(prev, { myPid: process.pid, myHost: thisHost(), prevIsLiveAgent: prev ? await isAgentProcess(prev.pid) : false });
    if (life.kind === 'alive_here') {
      throw new AgentNameTaken(`agent ${this.name} already runs on this host (pid ${life.pid}, heartbeat ${heartbeatPath(this.o.paths, this.o.gpu.id)}); stop it first, or give this GPU another name in config.json`);
    }
    if (life.kind === 'elsewhere' && prev && !prev.stopping) {
      // Written on another host: alive there if its seq still moves. Watched on our own clock
      // for three external cycles (it writes once per cycle); a moving seq is a live namesake.
      const id = this.o.gpu.id;
      const moved = await waitForHeartbeats(this.o.paths, [id], this.config.cycles.external_s * 3000, (hb) => hb.seq !== prev.seq || hb.pid !== prev.pid);
      if (moved.has(id)) throw new AgentNameTaken(`agent ${this.name} is alive on ${prev.hostname ?? 'another host'} (its heartbeat seq moved past ${prev.seq}); stop it first, or give this GPU another name in config.json`);
    }
    this.seq = prev ? prev.seq + 1 : 0;
    if (life.kind === 'none' || !prev) return;
    const ended = life.kind === 'ended' ? life : { pid: prev.pid, attempts: [] };
    // Task moves the previous life left half done (killed between a take and its publish).
    await this.store.recoverInterrupted(ended.pid);
    // Every process of the previous life is an orphan whose result nobody will read, whether
    // or not the brain has already returned its task: end them all.
    const orphans = await processesOfAttempts(this.name, ended.attempts);
    for (const pid of orphans) killGroup(pid, 'SIGKILL');
    for (const id of await this.store.list('processing')) {
      const r = await this.store.replace('processing', id, (t) => {
        // Another agent's claim between its rename and its write still names us: not ours.
        if (t.claimed_by !== this.name || !holdsOpenClaim(t)) return null;
        const result = this.synthResult(t, 'lost', 'infra', `agent ${this.name} restarted; its previous life (pid ${ended.pid}${life.kind === 'elsewhere' ? ` on ${prev.hostname ?? 'another host'}` : ''}) ended with the task running${orphans.length ? `; killed its processes ${orphans.join(', ')}` : ''}`, null, null);
        const record: AttemptRecord = {
          attempt: t.attempt, agent: this.name, claimed_at: t.claimed_at ?? result.started_at, finished_at: result.finished_at,
          outcome: 'lost', failure_kind: 'infra', reason: result.reason, exit_code: null, peak_vram_mb: null,
        };
        return { ...t, result, attempts: [...t.attempts.filter((a) => a.attempt !== t.attempt), record] };
      }, 'failed');
      if (r.ok) await this.agentLog('ORPHAN', id, `returned: ${r.task.result?.reason ?? ''}`);
    }
  }

  // ---- heartbeat and log ----

  /**
   * Heartbeat writes one at a time, in order: a claim, a finished worker and the cycle each
   * write one, and two at once would both find (and report) a bad file in its place.
   */
  private writeBeat(state?: 'stopping'): Promise<void> {
    const next = this.beats.then(() => this.writeBeatNow(state));
    this.beats = next.catch(() => {});
    return next;
  }

  private async writeBeatNow(state?: 'stopping'): Promise<void> {
    const g = this.telemetry?.ok ? this.telemetry.gpu : null;
    const active: ActiveTask[] = [...this.running.values()].map((r, i) => ({
      worker_id: `${this.name}-w${i}-${r.task.id.slice(-8)}`,
      task_id: r.task.id,
      task_class: r.task.task_class,
      task_name: r.task.name,
      vram_estimate_mb: r.task.vram_estimate_mb,
      peak_vram_mb: r.peakMb,
      pid: r.pid,
      task_pgid: r.taskPgid,
      started_at: isoTime(r.startedAt),
      attempt: r.task.attempt,
    }));
    const total = g?.memory_total_mb ?? null;
    const used = g?.memory_used_mb ?? null;
    const movedAside = await writeHeartbeat(this.o.paths, {
      gpu_id: this.o.gpu.id,
      name: this.name,
      state: state ?? (this.stopping ? 'stopping' : this.loading ? 'loading' : this.hot ? 'hot' : 'cold'),
      model_loaded: this.hot,
      last_updated: isoTime(this.o.clock.now()),
      temperature_c: g?.temperature_c ?? null,
      power_draw_w: g?.power_draw_w ?? null,
      vram_used_mb: used,
      vram_total_mb: total,
      vram_percent: total && used !== null ? Math.round((100 * used) / total) : null,
      gpu_util_percent: g?.utilization_percent ?? null,
      clock_mhz: g?.clock_sm_mhz ?? null,
      throttle_status: g ? formatThrottleStatus(g.throttle_reasons) : 'None',
      claimed_vram_mb: this.claimedMb(),
      budget_available_mb: this.availableMb(),
      active_workers: active.length,
      active_tasks: active,
      stats: this.stats,
      seq: this.seq++,
      pid: process.pid,
      started_at: isoTime(this.startedAt),
      health: this.health.health,
      health_reasons: this.health.reasons,
      accepts: this.acceptsNow(),
      llm_circuit: this.circuit.state,
      llm_reason: this.circuit.reason,
      host: this.host,
      stopping: this.stopping,
      hostname: thisHost(),
    });
    if (movedAside) await this.agentLog('BAD_FILE', null, movedAside);
  }

  private agentLog(what: string, task: string | null, reason: string, _t?: Task): Promise<string> {
    return this.log.write({ who: this.name, what, task, reason });
  }
}

/** Cost helper re-exported for status and tests. */
export { taskCost };
