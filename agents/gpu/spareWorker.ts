// The agent's spare worker (config workers.preboot): one worker process already booted and
// waiting on stdin, so the next task does not wait for Node to start. Still one process per
// task: a spare is taken once, and the next is started right then (it boots beside the running
// task, then blocks on stdin: no polling). A spare is tied to what it was started with (the
// key); one whose key no longer matches is killed and a fresh worker used instead. One that
// died is noticed by its exit and replaced after a short wait that doubles while they keep
// dying (a broken build must not become a spawn loop). It holds no task: no VRAM budget, no
// heartbeat 'running' entry.
import { killGroup, spawnSpare, type SpareProcess, type SpareSpawnOptions } from './spawnWorker.ts';

const RESPAWN_FIRST_MS = 1000;
const RESPAWN_MAX_MS = 60_000;

interface Spare {
  key: string;
  proc: SpareProcess;
  exited: boolean;
}

export class SpareWorker {
  private spare: Spare | null = null;
  private stopped = false;
  private respawnMs = RESPAWN_FIRST_MS;
  private respawnTimer: NodeJS.Timeout | null = null;
  /** The options of the last prepare: what a replacement of a dead spare is started with. */
  private last: SpareSpawnOptions | null = null;

  private readonly say: (line: string) => void;

  constructor(say: (line: string) => void = () => {}) {
    this.say = say;
  }

  /** Whether a live spare waits (for the heartbeat or metrics). */
  get ready(): boolean {
    return this.spare !== null && !this.spare.exited;
  }

  /** The waiting spare's pid, or null. */
  get pid(): number | null {
    return this.ready ? (this.spare!.proc.pid ?? null) : null;
  }

  /** Starts a spare for these options unless a live one started with them waits; a stale one is killed. */
  prepare(o: SpareSpawnOptions): void {
    if (this.stopped) return;
    this.last = o;
    const key = keyOf(o);
    if (this.spare && !this.spare.exited && this.spare.key === key) return;
    this.drop();
    const proc = spawnSpare(o);
    const s: Spare = { key, proc, exited: false };
    this.spare = s;
    void proc.then((r) => {
      s.exited = true;
      if (this.spare !== s || this.stopped) return;
      // Died while waiting (crash, OOM kill, someone's kill): replaced, after a wait.
      this.spare = null;
      this.say(`spare worker ${proc.pid ?? '?'} died while waiting (exit ${r.exitCode ?? r.signal}); replaced in ${this.respawnMs} ms`);
      this.respawnTimer = setTimeout(() => {
        this.respawnTimer = null;
        if (this.last) this.prepare(this.last);
      }, this.respawnMs);
      this.respawnTimer.unref();
      this.respawnMs = Math.min(this.respawnMs * 2, RESPAWN_MAX_MS);
    });
  }

  /**
   * The waiting spare if it lives and was started with these options; it is this caller's
   * from then on. null: run the task in a fresh worker (a stale spare is killed). The caller
   * calls prepare once the task is handed over, so the next spare's spawn is not in its way.
   */
  take(o: SpareSpawnOptions): SpareProcess | null {
    if (this.stopped) return null;
    const s = this.spare;
    if (s && !s.exited && s.key === keyOf(o) && s.proc.pid !== undefined) {
      this.spare = null;
      this.respawnMs = RESPAWN_FIRST_MS;
      return s.proc;
    }
    this.drop();
    return null;
  }

  /** Agent shutdown: the spare is killed and none is started again. */
  stop(): void {
    this.stopped = true;
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    this.drop();
  }

  private drop(): void {
    const s = this.spare;
    this.spare = null;
    // It holds no task: nothing to report, so no grace.
    if (s && !s.exited && s.proc.pid !== undefined) killGroup(s.proc.pid, 'SIGKILL');
  }
}

/** What a spare was started with, as one comparable string. */
function keyOf(o: SpareSpawnOptions): string {
  const env = Object.entries(o.extraEnv).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([o.agent, o.configFile, o.shared ?? null, o.ollamaUrl, o.gpuId, o.runtime ?? 'ollama', env]);
}
