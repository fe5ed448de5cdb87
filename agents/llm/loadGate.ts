// Model loads, one at a time per rig. The GPUs share a narrow PCIe link (Gen1 x1 behind a
// switch): two loads at once make both crawl, and a load that crawls past its deadline
// looks like a failure. Each agent is its own process, so the gate is a lock on disk
// (proper-lockfile: an atomic mkdir), not a mutex in memory.
//
// A load takes minutes, and a load in progress is never "stuck": the holder refreshes
// the lock's time every updateMs, so it goes stale only when the holder stops refreshing
// (it died, or its event loop froze for staleMs). A lock left by a process that died is
// taken over after staleMs. Model loads are rare and coarse, which is what a lock based on
// file times is fit for (see LESSONS: skew and stalls break fine-grained ones).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { errorCode } from '../core/errors.ts';

export interface LoadGateOptions {
  /** Folder of the lock, e.g. <shared>/gpus. Created when missing. */
  dir: string;
  /** Lock name; the lock is <dir>/.<name>.lock. Default model-load. */
  name?: string;
  /** A lock not refreshed for this long belongs to a dead holder and is taken over, in ms. Default 300 000. */
  staleMs?: number;
  /** How often the holder refreshes the lock, in ms (at most staleMs / 2). Default 10 000. */
  updateMs?: number;
  /** How often a waiter tries again, in ms (with up to 50 % jitter). Default 500. */
  pollMs?: number;
}

export interface SlotOptions {
  /** Stops waiting for the slot (the load task was aborted or timed out). */
  signal?: AbortSignal;
  /** Called once when the slot is busy and this caller starts waiting (for a log line). */
  onWait?: () => void;
}

export class LoadGate {
  readonly lockPath: string;
  private readonly dir: string;
  private readonly staleMs: number;
  private readonly updateMs: number;
  private readonly pollMs: number;

  constructor(opts: LoadGateOptions) {
    this.dir = opts.dir;
    this.lockPath = join(opts.dir, `.${opts.name ?? 'model-load'}.lock`);
    this.staleMs = opts.staleMs ?? 300_000;
    this.updateMs = Math.min(opts.updateMs ?? 10_000, Math.floor(this.staleMs / 2));
    this.pollMs = opts.pollMs ?? 500;
  }

  /**
   * Runs fn while holding the rig's load slot, and releases it however fn ends. fn gets a
   * signal that aborts if the lock is lost underneath it (taken over as stale, removed by hand):
   * the load may go on, but it is no longer exclusive.
   */
  async withLoadSlot<T>(fn: (lost: AbortSignal) => Promise<T>, opts: SlotOptions = {}): Promise<T> {
    const lost = new AbortController();
    const release = await this.acquire(lost, opts);
    try {
      return await fn(lost.signal);
    } finally {
      // A compromised lock is already gone (or someone else's): nothing to release.
      if (!lost.signal.aborted) await release().catch(() => {});
    }
  }

  private async acquire(lost: AbortController, opts: SlotOptions): Promise<() => Promise<void>> {
    await mkdir(this.dir, { recursive: true });
    let waited = false;
    for (;;) {
      opts.signal?.throwIfAborted();
      try {
        // The lock path is also the key: proper-lockfile tracks held locks per path in a process.
        return await lockfile.lock(this.lockPath, {
          lockfilePath: this.lockPath,
          realpath: false,
          stale: this.staleMs,
          update: this.updateMs,
          retries: 0,
          // The default throws from a timer and crashes the agent; losing the slot is not worth that.
          onCompromised: (err) => lost.abort(new Error(`model load slot ${this.lockPath} lost: ${err.message}`)),
        });
      } catch (err) {
        if (errorCode(err) !== 'ELOCKED') throw err;
      }
      if (!waited) {
        waited = true;
        opts.onWait?.();
      }
      await sleep(this.pollMs * (1 + Math.random() * 0.5), opts.signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
