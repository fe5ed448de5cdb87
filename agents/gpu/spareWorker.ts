// The agent's spare workers (config workers.preboot): worker processes already booted and
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
  /** Oldest first: the one taken next has had the longest to boot. */
  private spares: Spare[] = [];
  private stopped = false;
  private respawnMs = RESPAWN_FIRST_MS;
  private respawnTimer: NodeJS.Timeout | null = null;
  /** The options of the last prepare: what a replacement of a dead spare is started with. */
  private last: SpareSpawnOptions | null = null;

  private readonly say: (line: string) => void;
  private readonly count: number;

  /**
   * count: spares kept booted. Two: when tasks follow each other faster than Node boots (a
   * chain of short tasks), the one taken had a whole task's time more to boot than the one
   * started just before.
   */
  constructor(say: (line: string) => void = () => {}, count = 2) {
    this.say = say;
    this.count = Math.max(1, count);
  }

  /** Whether a live spare waits (for the heartbeat or metrics). */
  get ready(): boolean {
    return this.spares.some((s) => !s.exited);
  }

  /** The pid of the spare taken next, or null. */
  get pid(): number | null {
    return this.spares.find((s) => !s.exited)?.proc.pid ?? null;
  }

  /** Starts spares for these options until `count` live ones started with them wait; stale ones are killed. */
  prepare(o: SpareSpawnOptions): void {
    if (this.stopped) return;
    this.last = o;
    const key = this.keepOnly(o);
    while (this.spares.length < this.count) this.spares.push(this.start(o, key));
  }

  private start(o: SpareSpawnOptions, key: string): Spare {
    const proc = spawnSpare(o);
    const s: Spare = { key, proc, exited: false };
    void proc.then((r) => {
      s.exited = true;
      if (!this.spares.includes(s) || this.stopped) return;
      // Died while waiting (crash, OOM kill, someone's kill): replaced, after a wait.
      this.spares = this.spares.filter((x) => x !== s);
      this.say(`spare worker ${proc.pid ?? '?'} died while waiting (exit ${r.exitCode ?? r.signal}); replaced in ${this.respawnMs} ms`);
      if (this.respawnTimer) return;
      this.respawnTimer = setTimeout(() => {
        this.respawnTimer = null;
        if (this.last) this.prepare(this.last);
      }, this.respawnMs);
      this.respawnTimer.unref();
      this.respawnMs = Math.min(this.respawnMs * 2, RESPAWN_MAX_MS);
    });
    return s;
  }

  /**
   * The oldest waiting spare if it lives and was started with these options; it is this
   * caller's from then on. null: run the task in a fresh worker (stale spares are killed). The
   * caller calls prepare once the task is handed over, so the next spare's spawn is not in its way.
   */
  take(o: SpareSpawnOptions): SpareProcess | null {
    if (this.stopped) return null;
    this.keepOnly(o);
    const s = this.spares.find((x) => x.proc.pid !== undefined);
    if (!s) return null;
    this.spares = this.spares.filter((x) => x !== s);
    this.respawnMs = RESPAWN_FIRST_MS;
    return s.proc;
  }

  /** Kills the spares started with other options and forgets the dead ones; returns the key of these. */
  private keepOnly(o: SpareSpawnOptions): string {
    const key = keyOf(o);
    for (const s of this.spares) if (s.key !== key) kill(s);
    this.spares = this.spares.filter((s) => !s.exited && s.key === key);
    return key;
  }

  /** Agent shutdown: the spares are killed and none is started again. */
  stop(): void {
    this.stopped = true;
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    for (const s of this.spares) kill(s);
    this.spares = [];
  }
}

/** It holds no task: nothing to report, so no grace. */
function kill(s: Spare): void {
  if (!s.exited && s.proc.pid !== undefined) killGroup(s.proc.pid, 'SIGKILL');
}

/** What a spare was started with, as one comparable string. */
function keyOf(o: SpareSpawnOptions): string {
  const env = Object.entries(o.extraEnv).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([o.agent, o.configFile, o.shared ?? null, o.ollamaUrl, o.gpuId, o.runtime ?? 'ollama', env, o.nice ?? 0]);
}
