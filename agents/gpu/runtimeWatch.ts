// The agent's view of its LLM runtime: which model is resident (hot) or none (cold), the
// runtime's circuit breaker, which models other agents hold, and the load and unload meta
// tasks (a load of another model swaps: the resident one is unloaded first). Every runtime
// outcome goes through note(), so each circuit transition is logged once, with why.
import type { DecisionVerb } from '../core/decisionLog.ts';
import type { Clock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import type { Heartbeat } from '../core/heartbeat.ts';
import type { Task, WorkerResult } from '../core/task.ts';
import { CircuitBreaker, type CircuitOptions, type CircuitState } from '../llm/circuit.ts';
import type { LoadGate } from '../llm/loadGate.ts';
import { type LoadedModel, type ModelRuntime, RuntimeError, isRuntimeDown } from '../llm/runtime.ts';


/** The decision-log verb for each circuit state the runtime enters. */
const CIRCUIT_VERBS: Record<CircuitState, DecisionVerb> = { closed: 'LLM_CLOSED', open: 'LLM_OPEN', half_open: 'LLM_HALF_OPEN' };
export type AgentLog = (what: DecisionVerb, task: string | null, reason: string) => Promise<unknown>;

export interface RuntimeWatchOptions {
  runtime: ModelRuntime;
  loadGate: LoadGate;
  /** The agent's configured model (config gpus[].model): the one it prefers when several are resident. */
  model: string;
  /** false: the runtime serves the one model it was started with (openai servers): no loads, no unloads. */
  swappable: boolean;
  clock: Clock;
  /** A load's deadline, seconds (timeouts.model_load_s). */
  modelLoadS: number;
  circuit?: CircuitOptions;
  /** Why a model cannot be loaded here (its known size over the card's budget), or null when it may be. */
  refuseLoad?: (model: string) => string | null;
  log: AgentLog;
}

/** How a load or unload ended, for the meta task's result. */
export interface ModelTaskOutcome {
  outcome: WorkerResult['outcome'];
  failure_kind: WorkerResult['failure_kind'];
  reason: string;
  exit_code: number | null;
}

/**
 * The models other live, healthy agents hold or are loading, by their fresh heartbeats (a
 * heartbeat of an older agent without a model name counts with `fallback`, its configured one).
 */
export function modelsHeldByOthers(others: readonly Heartbeat[], now: number, staleMs: number, fallback: (h: Heartbeat) => string | null): string[] {
  const out: string[] = [];
  for (const h of others) {
    if (!(h.model_loaded || h.state === 'loading') || h.health !== 'healthy' || h.stopping) continue;
    if (now - Date.parse(h.last_updated) >= staleMs) continue;
    const m = h.model ?? fallback(h);
    if (m) out.push(m);
  }
  return out;
}

/** Which resident model is the agent's: the one it loaded last, else its configured one, else the first listed. */
export function pickHeld(loaded: readonly LoadedModel[], wanted: readonly string[], same: (a: string, b: string) => boolean): LoadedModel | null {
  for (const w of wanted) {
    const m = loaded.find((l) => same(l.name, w));
    if (m) return m;
  }
  return loaded[0] ?? null;
}

export class RuntimeWatch {
  readonly circuit: CircuitBreaker;
  /** The model resident now, as the runtime names it; null when cold. */
  held: string | null = null;
  /** The resident model's size, MB (0 when cold). */
  modelMb = 0;
  /** A load meta task is in progress, and of which model. */
  loading = false;
  loadingModel: string | null = null;
  /** How long each model's latest load here took, ms. */
  readonly loadMs: Record<string, number> = {};
  /** Each model's resident size as measured here, MB. */
  readonly sizes: Record<string, number> = {};
  /** The model this agent loaded last: preferred when the runtime lists several. */
  private lastLoaded: string | null = null;
  private readonly o: RuntimeWatchOptions;

  constructor(o: RuntimeWatchOptions) {
    this.o = o;
    this.circuit = new CircuitBreaker(o.circuit);
  }

  get hot(): boolean {
    return this.held !== null;
  }

  /** Asks the runtime what it holds now; cold when it does not answer. */
  async refresh(): Promise<void> {
    if (!this.circuit.canUse(this.o.clock.now())) {
      // A runtime that does not answer holds no usable model: the agent is cold until it does.
      if (this.circuit.state === 'open') this.setHeld(null, 0);
      return;
    }
    try {
      const loaded = await this.o.runtime.listLoaded();
      this.note(true, null);
      const wanted = [this.lastLoaded, this.o.model].filter((m): m is string => m !== null);
      const mine = pickHeld(loaded, wanted, (a, b) => this.o.runtime.sameModel(a, b));
      this.setHeld(mine?.name ?? null, mine?.size_vram_mb ?? 0);
    } catch (err) {
      this.note(false, errorMessage(err));
      this.setHeld(null, 0);
    }
  }

  /** The cheap health probe of the external cycle. */
  async probe(): Promise<void> {
    if (!this.circuit.canUse(this.o.clock.now())) return;
    const h = await this.o.runtime.health().catch((err) => ({ ok: false, reason: errorMessage(err) }));
    this.note(h.ok, h.reason);
    if (!h.ok) this.setHeld(null, 0);
  }

  /** Records a runtime outcome in the circuit; logs a transition once, with why. */
  note(ok: boolean, reason: string | null): void {
    const before = this.circuit.state;
    if (ok) this.circuit.recordSuccess();
    else this.circuit.recordFailure(this.o.clock.now(), reason ?? 'runtime not healthy');
    if (before !== this.circuit.state) {
      void this.o.log(CIRCUIT_VERBS[this.circuit.state], null, ok ? 'runtime answers again' : (this.circuit.reason ?? 'runtime failing'));
    }
  }

  /** Runs a load_llm or unload_llm meta task inside the agent; never throws. */
  async runModelTask(t: Task): Promise<ModelTaskOutcome> {
    const model = t.type === 'unload_llm' ? (this.held ?? t.model ?? this.o.model) : (t.model ?? this.o.model);
    try {
      if (t.type === 'load_llm') {
        const refused = this.refusal(model);
        if (refused) return { outcome: 'unschedulable', failure_kind: 'app', reason: `load_llm ${model} refused: ${refused}`, exit_code: null };
        await this.load(t.id, model);
      } else if (t.type === 'unload_llm') {
        if (this.o.swappable) await this.o.runtime.unload(model);
      } else throw new Error(`meta task type ${t.type} is not known to the agent (load_llm, unload_llm)`);
      this.note(true, null);
      await this.refresh();
      const now = this.held ? `hot with ${this.held}` : 'cold';
      return { outcome: 'success', failure_kind: null, reason: `${t.type} ${model}: agent is ${now}${this.o.swappable ? '' : ' (its server serves one model: nothing to load or unload)'}`, exit_code: 0 };
    } catch (err) {
      const oom = err instanceof RuntimeError && err.kind === 'oom';
      // Only an outage counts against the runtime's circuit; a model too big for the card does not.
      if (isRuntimeDown(err)) this.note(false, errorMessage(err));
      return { outcome: oom ? 'oom' : 'error', failure_kind: 'infra', reason: `${t.type} ${model} failed: ${errorMessage(err)}`, exit_code: null };
    } finally {
      // Cleared only once hot/cold is read again: no heartbeat in between shows it cold.
      this.loading = false;
      this.loadingModel = null;
    }
  }

  /**
   * Loads the held model again as it resolves now (its adapter version changed: adapterWatch.ts);
   * `loading` shows in the heartbeat meanwhile. null when done, else why not. Never throws.
   */
  async reload(model: string): Promise<string | null> {
    try {
      await this.load(null, model);
      this.note(true, null);
      return null;
    } catch (err) {
      if (isRuntimeDown(err)) this.note(false, errorMessage(err));
      return errorMessage(err);
    } finally {
      this.loading = false;
      this.loadingModel = null;
      await this.refresh();
    }
  }

  /** Why this load may not happen: a server that serves another model, or a size over the budget. */
  private refusal(model: string): string | null {
    if (!this.o.swappable && this.held && !this.o.runtime.sameModel(this.held, model)) {
      return `this GPU's server serves ${this.held} only (change the GPU's serve command to serve ${model})`;
    }
    return this.o.refuseLoad?.(model) ?? null;
  }

  /**
   * One load at a time across the host's GPUs (the gate); `loading` shows in the heartbeat
   * meanwhile. Another resident model is unloaded first: one model per card, so the budget
   * the agent counts is the card's real state.
   */
  private async load(taskId: string | null, model: string): Promise<void> {
    this.loading = true;
    this.loadingModel = model;
    const previous = this.held;
    if (this.o.swappable && previous && !this.o.runtime.sameModel(previous, model)) {
      await this.o.log('UNLOAD', taskId, `swapping: unloading ${previous} before loading ${model}`);
      await this.o.runtime.unload(previous);
      this.setHeld(null, 0);
    }
    await this.o.loadGate.withLoadSlot(
      async () => {
        await this.o.log('LOAD', taskId, `loading ${model} through ${this.o.runtime.url}`);
        const t0 = this.o.clock.now();
        await this.o.runtime.load(model, { signal: AbortSignal.timeout(this.o.modelLoadS * 1000) });
        this.loadMs[model] = this.o.clock.now() - t0;
        this.lastLoaded = model;
      },
      { onWait: () => void this.o.log('LOAD_WAIT', taskId, 'another GPU is loading a model; loads are serialised') },
    );
  }

  private setHeld(model: string | null, mb: number): void {
    if (model !== this.held) {
      if (model) void this.o.log('HOT', null, `${model} resident (${mb} MB)`);
      else void this.o.log('COLD', null, `${this.held ?? this.o.model} not loaded`);
    }
    this.held = model;
    this.modelMb = mb;
    if (model && mb > 0) this.sizes[model] = mb;
  }
}
