// The agent's view of its LLM runtime: whether its model is resident (hot) or not (cold), the
// runtime's circuit breaker, whether another agent already holds the model, and the load and
// unload meta tasks. Every runtime outcome goes through note(), so each circuit transition is
// logged once, with why.
import type { DecisionVerb } from '../core/decisionLog.ts';
import type { Clock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import type { Heartbeat } from '../core/heartbeat.ts';
import type { Task, WorkerResult } from '../core/task.ts';
import { CircuitBreaker, type CircuitState } from '../llm/circuit.ts';
import type { LoadGate } from '../llm/loadGate.ts';
import { type ModelRuntime, RuntimeError, isRuntimeDown } from '../llm/runtime.ts';


/** The decision-log verb for each circuit state the runtime enters. */
const CIRCUIT_VERBS: Record<CircuitState, DecisionVerb> = { closed: 'LLM_CLOSED', open: 'LLM_OPEN', half_open: 'LLM_HALF_OPEN' };
export type AgentLog = (what: DecisionVerb, task: string | null, reason: string) => Promise<unknown>;

export interface RuntimeWatchOptions {
  runtime: ModelRuntime;
  loadGate: LoadGate;
  /** The agent's model (config gpus[].model). */
  model: string;
  clock: Clock;
  /** A load's deadline, seconds (timeouts.model_load_s). */
  modelLoadS: number;
  log: AgentLog;
}

/** How a load or unload ended, for the meta task's result. */
export interface ModelTaskOutcome {
  outcome: WorkerResult['outcome'];
  failure_kind: WorkerResult['failure_kind'];
  reason: string;
  exit_code: number | null;
}

/** Another live, healthy agent holds (or is loading) a model: its heartbeat says so and is fresh. */
export function othersHoldModel(others: readonly Heartbeat[], now: number, staleMs: number): boolean {
  return others.some((h) => (h.model_loaded || h.state === 'loading') && h.health === 'healthy' && !h.stopping && now - Date.parse(h.last_updated) < staleMs);
}

export class RuntimeWatch {
  readonly circuit = new CircuitBreaker();
  hot = false;
  /** The model's resident size, MB (0 when cold). */
  modelMb = 0;
  /** A load meta task is in progress. */
  loading = false;
  private readonly o: RuntimeWatchOptions;

  constructor(o: RuntimeWatchOptions) {
    this.o = o;
  }

  /** Asks the runtime what it holds now; cold when it does not answer. */
  async refresh(): Promise<void> {
    if (!this.circuit.canUse(this.o.clock.now())) {
      // A runtime that does not answer holds no usable model: the agent is cold until it does.
      if (this.circuit.state === 'open') this.setHot(false, 0);
      return;
    }
    try {
      const loaded = await this.o.runtime.listLoaded();
      this.note(true, null);
      const mine = loaded.find((m) => this.o.runtime.sameModel(m.name, this.o.model));
      this.setHot(Boolean(mine), mine?.size_vram_mb ?? 0);
    } catch (err) {
      this.note(false, errorMessage(err));
      this.setHot(false, 0);
    }
  }

  /** The cheap health probe of the external cycle. */
  async probe(): Promise<void> {
    if (!this.circuit.canUse(this.o.clock.now())) return;
    const h = await this.o.runtime.health().catch((err) => ({ ok: false, reason: errorMessage(err) }));
    this.note(h.ok, h.reason);
    if (!h.ok) this.setHot(false, 0);
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
    const model = t.model ?? this.o.model;
    try {
      if (t.type === 'load_llm') await this.load(t.id, model);
      else if (t.type === 'unload_llm') await this.o.runtime.unload(model);
      else throw new Error(`meta task type ${t.type} is not known to the agent (load_llm, unload_llm)`);
      this.note(true, null);
      await this.refresh();
      return { outcome: 'success', failure_kind: null, reason: `${t.type} ${model}: agent is ${this.hot ? 'hot' : 'cold'}`, exit_code: 0 };
    } catch (err) {
      const oom = err instanceof RuntimeError && err.kind === 'oom';
      // Only an outage counts against the runtime's circuit; a model too big for the card does not.
      if (isRuntimeDown(err)) this.note(false, errorMessage(err));
      return { outcome: oom ? 'oom' : 'error', failure_kind: 'infra', reason: `${t.type} ${model} failed: ${errorMessage(err)}`, exit_code: null };
    } finally {
      // Cleared only once hot/cold is read again: no heartbeat in between shows it cold.
      this.loading = false;
    }
  }

  /** One load at a time across the host's GPUs (the gate); `loading` shows in the heartbeat meanwhile. */
  private async load(taskId: string, model: string): Promise<void> {
    this.loading = true;
    await this.o.loadGate.withLoadSlot(
      async () => {
        await this.o.log('LOAD', taskId, `loading ${model} through ${this.o.runtime.url}`);
        await this.o.runtime.load(model, { signal: AbortSignal.timeout(this.o.modelLoadS * 1000) });
      },
      { onWait: () => void this.o.log('LOAD_WAIT', taskId, 'another GPU is loading a model; loads are serialised') },
    );
  }

  private setHot(hot: boolean, mb: number): void {
    if (hot !== this.hot) void this.o.log(hot ? 'HOT' : 'COLD', null, hot ? `${this.o.model} resident (${mb} MB)` : `${this.o.model} not loaded`);
    this.hot = hot;
    this.modelMb = mb;
  }
}
