// The brain's Prometheus metrics (metrics/brain.prom): what the folders show now (tasks by
// folder and class, batches by state) and what the brain counted since it started (its
// retries, give-ups and backoffs; attempts seen failing, by kind; how long tasks waited,
// ran, and took to reach the brain). Counters restart at 0 with the brain, as Prometheus
// expects of a process's counters. Written whole, at most every WRITE_EVERY_MS.
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../core/atomic.ts';
import { errorCode } from '../core/errors.ts';
import { type Family, type HistogramSeries, emptyHistogram, formatFamilies, observe } from '../core/promText.ts';
import { TASK_FOLDERS, type MountPaths } from '../core/paths.ts';
import { TASK_CLASSES } from '../core/task.ts';
import type { BatchRecord } from '../core/batch.ts';
import type { BrainAction, TaskView } from './decide.ts';

/** Not every pass: a pass can run many times a second, and a scrape every 15 s needs no more. */
export const WRITE_EVERY_MS = 5000;

/** Seconds: from sub-second hops on a local mount to tasks that run for hours. */
export const SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400];

const ACTIONS_COUNTED = ['retry', 'give_up', 'backoff', 'skip'] as const;

type Hist = HistogramSeries & { counts: number[] };

/** What the brain counts between writes; the pure `brainFamilies` turns it and the index into text. */
export class BrainCounters {
  readonly actions = new Map<string, number>();
  readonly failures = new Map<string, number>();
  readonly queueWait = emptyHistogram(SECONDS_BUCKETS);
  readonly runTime = emptyHistogram(SECONDS_BUCKETS);
  readonly hop = emptyHistogram(SECONDS_BUCKETS);
  /** The attempt of each task already counted, for the tasks still in the index. */
  private readonly counted = new Map<string, number>();

  /** `<id>:<retry>` of the backoff waits counted: a wait is decided again at every pass until it ends. */
  private readonly waiting = new Set<string>();

  countActions(actions: readonly BrainAction[]): void {
    for (const a of actions) {
      if (!(ACTIONS_COUNTED as readonly string[]).includes(a.kind)) continue;
      if (a.kind === 'backoff') {
        const key = `${a.id}:${a.attempt.n}`;
        if (this.waiting.has(key)) continue;
        this.waiting.add(key);
      } else if (a.kind === 'retry' || a.kind === 'give_up') {
        this.waiting.delete(`${a.id}:${a.attempt.n}`);
      }
      this.actions.set(a.kind, (this.actions.get(a.kind) ?? 0) + 1);
    }
  }

  /** Counts each attempt newly seen finished (complete/ or failed/) once: its wait, its run, its way to the brain, its failure kind. */
  countFinished(tasks: ReadonlyMap<string, TaskView>, now: number): void {
    // Every pass walks every task: no allocation for the ones already counted.
    for (const [id, v] of tasks) {
      if (v.folder !== 'complete' && v.folder !== 'failed') continue;
      const t = v.task;
      if (this.counted.get(id) === t.attempt) continue;
      this.counted.set(id, t.attempt);
      if (v.folder === 'failed') {
        const kind = t.attempts.at(-1)?.failure_kind ?? 'none';
        this.failures.set(kind, (this.failures.get(kind) ?? 0) + 1);
      }
      const released = time(t.released_at), claimed = time(t.claimed_at), finished = time(t.finished_at);
      if (released !== null && claimed !== null && claimed >= released) observe(this.queueWait, (claimed - released) / 1000);
      if (claimed !== null && finished !== null && finished >= claimed) observe(this.runTime, (finished - claimed) / 1000);
      // The agent's clock to the brain's: a skew between hosts shows here, and a negative one is not a time.
      if (finished !== null && now >= finished) observe(this.hop, (now - finished) / 1000);
    }
    if (this.counted.size > tasks.size) for (const id of this.counted.keys()) if (!tasks.has(id)) this.counted.delete(id);
  }
}

function time(iso: string | null): number | null {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/** The brain's families, from its index and counters. Pure. */
export function brainFamilies(tasks: ReadonlyMap<string, TaskView>, batches: ReadonlyMap<string, BatchRecord>, c: BrainCounters): Family[] {
  const byFolder = new Map<string, number>();
  // A task a gate skipped is in complete/ but counted apart: it did not run.
  for (const f of [...TASK_FOLDERS, 'skipped']) for (const cls of TASK_CLASSES) byFolder.set(`${f}|${cls}`, 0);
  for (const v of tasks.values()) {
    const key = `${v.folder === 'complete' && v.task.result?.outcome === 'skipped' ? 'skipped' : v.folder}|${v.task.task_class}`;
    byFolder.set(key, (byFolder.get(key) ?? 0) + 1);
  }
  const byState = new Map<string, number>();
  for (const b of batches.values()) byState.set(b.state, (byState.get(b.state) ?? 0) + 1);
  return [
    {
      name: 'forge_tasks', help: 'Tasks of the active batches by folder (state; skipped: in complete/, not run because a gate said no) and task class.', type: 'gauge',
      samples: [...byFolder].map(([k, value]) => {
        const [state, task_class] = k.split('|') as [string, string];
        return { labels: { state, task_class }, value };
      }),
    },
    { name: 'forge_batches', help: 'Active batches by state.', type: 'gauge', samples: [...byState].map(([state, value]) => ({ labels: { state }, value })) },
    {
      name: 'forge_brain_actions_total', help: 'Retries, backoff waits, give-ups and gate skips the brain decided since it started.', type: 'counter',
      samples: ACTIONS_COUNTED.map((action) => ({ labels: { action }, value: c.actions.get(action) ?? 0 })),
    },
    {
      name: 'forge_task_failures_total', help: 'Task attempts the brain saw fail since it started, by failure kind (app: the task, infra: the rig).', type: 'counter',
      samples: ['app', 'infra', 'none'].map((kind) => ({ labels: { kind }, value: c.failures.get(kind) ?? 0 })),
    },
    { name: 'forge_task_queue_wait_seconds', help: 'Time from a task\'s release to its claim by an agent.', type: 'histogram', series: [c.queueWait] },
    { name: 'forge_task_run_seconds', help: 'Time from a task\'s claim to the end of its attempt.', type: 'histogram', series: [c.runTime] },
    { name: 'forge_task_hop_seconds', help: 'Time from an agent finishing a task to the brain seeing it finished (agent clock to brain clock).', type: 'histogram', series: [c.hop] },
  ];
}

/** Writes metrics/brain.prom whole when WRITE_EVERY_MS has passed since the last write. */
export class BrainMetrics {
  readonly counters = new BrainCounters();
  private lastWrite = -Infinity;
  private readonly paths: MountPaths;
  /** metrics/ was made (or found) by this process: not made again at every write, only when a write finds it gone. */
  private dirMade = false;

  constructor(paths: MountPaths) {
    this.paths = paths;
  }

  async maybeWrite(tasks: ReadonlyMap<string, TaskView>, batches: ReadonlyMap<string, BatchRecord>, now: number): Promise<void> {
    if (now - this.lastWrite < WRITE_EVERY_MS) return;
    this.lastWrite = now;
    const text = formatFamilies(brainFamilies(tasks, batches, this.counters));
    if (!this.dirMade) await this.makeDir();
    // No fsync: a lost metrics file is rewritten in seconds, and a sync is a round trip on a network mount.
    const write = () => writeFileAtomic(join(this.paths.metrics, 'brain.prom'), text, { sync: false });
    try {
      await write();
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
      await this.makeDir();
      await write();
    }
  }

  private async makeDir(): Promise<void> {
    await mkdir(this.paths.metrics, { recursive: true });
    this.dirMade = true;
  }
}
