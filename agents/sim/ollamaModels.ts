// The simulated Ollama's loaded models: loads take time and fail when the mode says out of
// memory, each model stays for its keep_alive (a pinned model, the one a server started with
// --serve-model holds, stays for ever), and while any is loaded the server registers itself
// as a GPU process for the simulated nvidia-smi (<simDir>/procs/<pid>.json).
import { randomBytes } from 'node:crypto';
import { mkdir, unlink } from 'node:fs/promises';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { writeJsonAtomic } from '../core/atomic.ts';
import { normalizeModel } from './ollamaAnswers.ts';
import { HttpError, waitUnlessClosed } from './ollamaHttp.ts';
import type { SimMode } from './ollamaMode.ts';

const OOM_ERROR =
  'llama runner process has terminated: cudaMalloc failed: out of memory (model requires more GPU memory than is available)';

/** In-process servers sharing a simDir get distinct procs files (the file name is normally the pid). */
const procNamesInUse = new Set<string>();

export interface Resident {
  model: string;
  expiresAt: number | null; // null: never
  timer: NodeJS.Timeout | null;
}

export interface ResidentModelsOptions {
  gpuIndex: number;
  /** GPU memory of one loaded model with its KV cache for every request slot, in MiB. */
  modelSizeMb: number;
  /** How long a load takes, in ms. */
  loadDelayMs: number;
  /** Simulator state folder shared with the simulated nvidia-smi; no procs file when absent. */
  simDir?: string;
  /** The server's mode, read at each load (oom). */
  mode: Readonly<Required<SimMode>>;
  /** Aborted when the server closes: a load in progress then ends with 503. */
  closing: AbortSignal;
}

/** A procs file name no other in-process server uses. */
function claimProcFile(simDir: string, gpuIndex: number): string {
  let file = join(resolvePath(simDir), 'procs', `${process.pid}.json`);
  if (procNamesInUse.has(file)) {
    file = join(resolvePath(simDir), 'procs', `${process.pid}-gpu${gpuIndex}-${randomBytes(3).toString('hex')}.json`);
  }
  procNamesInUse.add(file);
  return file;
}

export class ResidentModels {
  readonly procFile: string | null;
  private readonly resident = new Map<string, Resident>();
  /** Models that stay loaded whatever a request's keep_alive says (normalised names). */
  private readonly pinned = new Set<string>();
  // Loads and unloads happen one at a time, like Ollama's scheduler.
  private schedule: Promise<unknown> = Promise.resolve();
  // Serialised so a slow write can never land after a later removal.
  private procWrites: Promise<void> = Promise.resolve();

  private readonly opts: ResidentModelsOptions;

  constructor(opts: ResidentModelsOptions) {
    this.opts = opts;
    this.procFile = opts.simDir ? claimProcFile(opts.simDir, opts.gpuIndex) : null;
  }

  /** Names of the models loaded now. */
  names(): string[] {
    return [...this.resident.keys()];
  }

  loaded(): Resident[] {
    return [...this.resident.values()];
  }

  /** Loads the model and keeps it for ever, like a server started with that one model; resolves with the load's ms. */
  pin(model: string): Promise<number> {
    this.pinned.add(normalizeModel(model));
    return this.ensureLoaded(model, null);
  }

  /** Loads (if needed) and sets the residency; resolves once the model is usable, with the load's ms (0 when it was loaded). */
  ensureLoaded(model: string, keepAliveMs: number | null): Promise<number> {
    return this.runScheduled(async () => {
      const name = normalizeModel(model);
      const r = this.resident.get(name);
      if (r) {
        if (!this.pinned.has(name)) this.setExpiry(r, keepAliveMs);
        return 0;
      }
      const t0 = Date.now();
      await waitUnlessClosed(this.opts.loadDelayMs, this.opts.closing);
      if (this.opts.mode.oom) throw new HttpError(500, OOM_ERROR);
      const fresh: Resident = { model: name, expiresAt: null, timer: null };
      this.resident.set(name, fresh);
      this.setExpiry(fresh, this.pinned.has(name) ? null : keepAliveMs);
      await this.syncProcFile();
      return Date.now() - t0;
    });
  }

  unload(model: string): Promise<void> {
    return this.runScheduled(async () => {
      const name = normalizeModel(model);
      const r = this.resident.get(name);
      if (!r || this.pinned.has(name)) return;
      if (r.timer) clearTimeout(r.timer);
      this.resident.delete(name);
      await this.syncProcFile();
    });
  }

  /** Forgets every model at once (the server is closing); release() then removes the procs file. */
  clear(): void {
    for (const r of this.resident.values()) if (r.timer) clearTimeout(r.timer);
    this.resident.clear();
  }

  /** After clear(): the procs file goes and its name is free again. */
  async release(): Promise<void> {
    await this.syncProcFile();
    if (this.procFile) procNamesInUse.delete(this.procFile);
  }

  private setExpiry(r: Resident, keepAliveMs: number | null): void {
    if (r.timer) clearTimeout(r.timer);
    r.timer = null;
    r.expiresAt = keepAliveMs === null ? null : Date.now() + keepAliveMs;
    if (keepAliveMs !== null) {
      r.timer = setTimeout(() => void this.unload(r.model), keepAliveMs);
      r.timer.unref();
    }
  }

  private runScheduled<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.schedule.then(fn, fn);
    this.schedule = next.catch(() => {});
    return next;
  }

  /** The procs file says what is loaded now: written while any model is, removed when none is. */
  private syncProcFile(): Promise<void> {
    if (!this.procFile) return Promise.resolve();
    const file = this.procFile;
    const count = this.resident.size;
    const { gpuIndex, modelSizeMb } = this.opts;
    this.procWrites = this.procWrites.then(async () => {
      if (count > 0) {
        await mkdir(dirname(file), { recursive: true });
        await writeJsonAtomic(file, { pid: process.pid, gpu_index: gpuIndex, used_mb: modelSizeMb * count, name: 'ollama' });
      } else {
        await unlink(file).catch(() => {});
      }
    });
    return this.procWrites;
  }
}
