// The agent's side of adapter versions: its runtime wrapped in an AdapterRuntime, current.json
// polled at each internal cycle and claim pass (a stat; read again only when it changed), and
// the switch of a hot model to the version now current, done at the boundary decideAdapterSwitch
// picks (adapterSwitch.ts). While a switch waits or runs, `hold` keeps llm claims off.
import type { MountPaths } from '../core/paths.ts';
import { AdapterRuntime, type AdapterRuntimeOptions } from '../llm/adapterRuntime.ts';
import { RuntimeError, type ModelRuntime } from '../llm/runtime.ts';
import { errorMessage } from '../core/errors.ts';
import { decideAdapterSwitch } from './adapterSwitch.ts';
import type { AgentLog } from './runtimeWatch.ts';

export interface AdapterWatchOptions {
  inner: ModelRuntime;
  paths: Pick<MountPaths, 'root'>;
  /** The agent's configured model: recognised as held when an earlier life loaded it. */
  known: () => string[];
  log: AgentLog;
  /** The held model, whether a load is in progress, and how many llm tasks run. */
  state: () => { held: string | null; loading: boolean; llmRunning: number };
  /** Reloads the held model as it resolves now; null when done, else why not. */
  reload: (model: string) => Promise<string | null>;
  /** After a switch ended: the heartbeat and a claim pass. */
  after: () => void;
  create?: AdapterRuntimeOptions['create'];
}

/** How a worker's model could not be made ready: the plan's fault (no such version) or the rig's. */
export type Served = { ok: true; name: string } | { ok: false; app: boolean; reason: string };

export class AdapterWatch {
  readonly runtime: AdapterRuntime;
  /** llm claims wait: a switch is due or running. */
  hold = false;
  private switching: Promise<void> | null = null;
  private checking: Promise<void> = Promise.resolve();
  private failed: string | null = null;
  private said: string | null = null;
  private readonly o: AdapterWatchOptions;

  constructor(o: AdapterWatchOptions) {
    this.o = o;
    this.runtime = new AdapterRuntime(o.inner, {
      paths: o.paths, known: o.known, create: o.create,
      onBadFile: (problem) => void o.log('BAD_FILE', null, problem),
    });
  }

  /**
   * Reads current.json when it changed and decides: nothing, hold llm claims, or switch now.
   * The internal cycle and the claim pass both call it: one check at a time, so a switch starts once.
   */
  check(): Promise<void> {
    const next = this.checking.then(() => this.checkOnce());
    this.checking = next.catch(() => {});
    return next;
  }

  private async checkOnce(): Promise<void> {
    if (await this.runtime.refreshCurrent()) this.failed = null;
    // A switch of its own in progress: llm claims stay held until it ends (its end decides again).
    if (this.switching) return;
    const s = this.o.state();
    const p = s.held ? this.runtime.pendingSwitch(s.held) : null;
    const step = decideAdapterSwitch({
      held: s.held, pending: p && { from: p.from, to: p.to, served: p.target.served }, llmRunning: s.llmRunning,
      loading: s.loading || this.switching !== null, failed: this.failed,
    });
    if ((step.do === 'hold' || step.do === 'keep') && this.said !== step.reason) {
      this.said = step.reason;
      await this.o.log('ADAPTER', null, step.reason);
    }
    this.hold = step.do === 'hold' || step.do === 'switch';
    if (step.do !== 'switch' || !p) return;
    this.said = null;
    await this.o.log('ADAPTER', null, step.reason);
    const served = p.target.served;
    this.switching = this.o.reload(step.model).then(async (why) => {
      if (why !== null) {
        this.failed = served;
        await this.o.log('ADAPTER', null, `${step.model}: switch to ${p.to} failed: ${why}`);
      } else {
        await this.o.log('ADAPTER', null, `${step.model}: now runs ${p.to} (${served})`);
      }
      this.switching = null;
      this.hold = false;
      this.o.after();
    });
  }

  /** The served name for a worker's llm task (created in the runtime first when not loaded here). Never throws. */
  async servedFor(model: string): Promise<Served> {
    try {
      return { ok: true, name: await this.runtime.servedFor(model) };
    } catch (err) {
      const app = err instanceof RuntimeError && err.kind === 'model_missing';
      return { ok: false, app, reason: `model ${model}: ${errorMessage(err)}` };
    }
  }
}
