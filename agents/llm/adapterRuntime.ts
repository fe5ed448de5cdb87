// A ModelRuntime in front of an Ollama runtime that knows adapter versions. The agent and the
// brain speak of models as config and plans name them (`qwen2.5:7b`, `qwen2.5:7b#support:v2`);
// this layer turns such a name into the model the server runs (`qwen2.5:7b-support-v3`,
// created from the base and the adapter's blob first: adapterLoad.ts) when it loads one, and
// maps the server's names back when it lists them.
//
// Which version a bare base means is read from adapters/current.json (refreshCurrent, polled
// by the agent: its content, never a file event, so it works across hosts). The version a
// loaded model runs is fixed at its load: a change of current.json shows as pendingSwitch, and
// the agent reloads at a boundary of its own choosing (no llm task running), never mid-task.
import { stat } from 'node:fs/promises';
import { type AdapterVersion, baseOf, sameModelRef, servedModelName } from '../core/adapterRef.ts';
import { type CurrentAdapters, type Resolution, currentFile, readCurrent, readVersion, resolveModel } from '../core/adapters.ts';
import type { MountPaths } from '../core/paths.ts';
import { type AdapterModel, createAdapterModel } from './adapterLoad.ts';
import { type GenerateRequest, type GenerateResult, type LoadedModel, type ModelRuntime, type RuntimeHealth, RuntimeError } from './runtime.ts';

export interface AdapterRuntimeOptions {
  paths: Pick<MountPaths, 'root'>;
  /** Names the agent may hold without having loaded them in this life (its configured model): recognised in listLoaded. */
  known: () => string[];
  /** Called once per distinct problem with current.json (the file is then ignored: what is held stays). */
  onBadFile: (problem: string) => void;
  /** Makes an adapter model exist in the runtime; default: createAdapterModel on the runtime's URL. */
  create?: (m: AdapterModel, signal?: AbortSignal) => Promise<void>;
  /** Deadline of the blob push and the create, ms. Default 600 000. */
  createTimeoutMs?: number;
}

/** What a model name resolves to now, and the runtime's name for it. */
export interface Target {
  res: Resolution;
  served: string;
}

interface Bound {
  model: string;
  served: string;
  adapter: AdapterVersion | null;
}

/** How a resolution reads in a log line: `qwen2.5:7b with support v3` or `qwen2.5:7b (no adapter)`. */
export function describeTarget(res: Resolution): string {
  return res.adapter ? `${res.base} with ${res.adapter.adapter} ${res.adapter.version}` : `${res.base} (no adapter)`;
}

export class AdapterRuntime implements ModelRuntime {
  readonly url: string;
  /** current.json as last read well ({} until then, or while it is missing). */
  current: CurrentAdapters = {};
  private readonly inner: ModelRuntime;
  private readonly o: AdapterRuntimeOptions;
  /** Each model name loaded through this runtime, and what it was loaded as. */
  private readonly bound: Bound[] = [];
  private seen: string | null = null;
  private lastProblem: string | null = null;

  constructor(inner: ModelRuntime, o: AdapterRuntimeOptions) {
    this.inner = inner;
    this.url = inner.url;
    this.o = o;
  }

  /**
   * Reads current.json again when it changed (its inode, size or mtime: a rename gives a new
   * inode). Returns true when what it names changed. A bad file is reported once and ignored.
   */
  async refreshCurrent(): Promise<boolean> {
    const file = currentFile(this.o.paths);
    const st = await stat(file).catch(() => null);
    const sig = st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'missing';
    if (sig === this.seen) return false;
    this.seen = sig;
    const read = await readCurrent(this.o.paths);
    if (!read.ok) {
      if (read.problem !== this.lastProblem) this.o.onBadFile(`${read.problem}; ignored: models keep the adapter versions they have`);
      this.lastProblem = read.problem;
      return false;
    }
    this.lastProblem = null;
    const changed = JSON.stringify(read.value) !== JSON.stringify(this.current);
    this.current = read.value;
    return changed;
  }

  /** Pure on the current snapshot: what `model` means now. */
  target(model: string): Target {
    const res = resolveModel(model, this.current);
    return { res, served: res.adapter ? servedModelName(res.base, res.adapter) : res.base };
  }

  /** The runtime's name for `model` as loaded here, or as it would be loaded now. */
  private boundTo(model: string): Bound | null {
    return this.bound.find((b) => sameModelRef(b.model, model)) ?? null;
  }

  /**
   * The held model's version change waiting: what it runs and what current.json now names;
   * null when they are the same (or it was not loaded here).
   */
  pendingSwitch(model: string): { from: string; to: string; target: Target } | null {
    const b = this.boundTo(model);
    if (!b) return null;
    const t = this.target(model);
    if (this.inner.sameModel(b.served, t.served)) return null;
    const from = b.adapter ? `${baseOf(model)} with ${b.adapter.adapter} ${b.adapter.version}` : `${baseOf(model)} (no adapter)`;
    return { from, to: describeTarget(t.res), target: t };
  }

  /** Makes the runtime have the model `t` names (an adapter model is created from its version folder); returns its served name. */
  private async prepare(t: Target, signal?: AbortSignal): Promise<string> {
    if (!t.res.adapter) return t.served;
    const v = await readVersion(this.o.paths, t.res.base, t.res.adapter);
    // A version that is not there is the plan's or the person's error, not the runtime's.
    if (!v.ok) throw new RuntimeError('model_missing', this.url, `adapter for ${describeTarget(t.res)}: ${v.problem}`);
    const m: AdapterModel = { served: t.served, base: t.res.base, file: v.file };
    if (this.o.create) await this.o.create(m, signal);
    else await createAdapterModel(this.url, m, { timeoutMs: this.o.createTimeoutMs ?? 600_000, signal });
    return t.served;
  }

  /**
   * The served name a worker asks for `model` with: what it was loaded as here, else what it
   * means now (created in the runtime first, for an agent that runs a task cold).
   */
  async servedFor(model: string, signal?: AbortSignal): Promise<string> {
    const b = this.boundTo(model);
    return b ? b.served : this.prepare(this.target(model), signal);
  }

  async listLoaded(): Promise<LoadedModel[]> {
    const loaded = await this.inner.listLoaded();
    return loaded.map((l) => ({ ...l, name: this.nameOf(l.name) }));
  }

  /**
   * A served name back to the model name it was loaded for: bound here, else one of the
   * agent's known names (an earlier life loaded it): as it resolves now, or its plain base
   * (loaded before an adapter became current: pendingSwitch then says so).
   */
  private nameOf(served: string): string {
    const b = this.bound.find((x) => this.inner.sameModel(x.served, served));
    if (b) return b.model;
    for (const k of this.o.known()) {
      const t = this.target(k);
      const plain = t.res.via === 'current' && this.inner.sameModel(t.res.base, served);
      if (this.inner.sameModel(t.served, served) || plain) {
        this.bound.push({ model: k, served, adapter: plain ? null : t.res.adapter });
        return k;
      }
    }
    return served;
  }

  /**
   * Loads what `model` means now. The adapter model is made first, so a version that cannot
   * be made leaves the one loaded before in place; then the one it replaces is unloaded.
   */
  async load(model: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const t = this.target(model);
    const served = await this.prepare(t, opts.signal);
    const old = this.boundTo(model);
    if (old && !this.inner.sameModel(old.served, served)) {
      await this.inner.unload(old.served);
      this.forget(model);
    }
    await this.inner.load(served, opts);
    this.forget(model);
    this.bound.push({ model, served, adapter: t.res.adapter });
  }

  async unload(model: string): Promise<void> {
    const b = this.boundTo(model);
    await this.inner.unload(b ? b.served : this.target(model).served);
    this.forget(model);
  }

  generate(req: GenerateRequest): Promise<GenerateResult> {
    return this.inner.generate({ ...req, model: this.boundTo(req.model)?.served ?? this.target(req.model).served });
  }

  health(): Promise<RuntimeHealth> {
    return this.inner.health();
  }

  sameModel(a: string, b: string): boolean {
    return sameModelRef(a, b);
  }

  private forget(model: string): void {
    for (let i = this.bound.length - 1; i >= 0; i--) if (sameModelRef(this.bound[i]!.model, model)) this.bound.splice(i, 1);
  }
}
