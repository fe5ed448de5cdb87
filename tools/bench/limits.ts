// 1. The limits of this machine, which no queue can beat:
//   (a) one no-op task's worker, started and read back, one at a time and `cores` at a time;
//   (b) the file-system work of one task's life on the mount: write (temp name, fsync,
//       rename into queue/), rename to processing/, rename to complete/.
import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { TaskStore } from '../../agents/core/store.ts';
import { makeMount } from './rigSession.ts';
import { type NoopDir, type SpawnTiming, entryInUse, makeNoopDir, noopTask, runWorkerOnce, writeNoopTask } from './noopWorker.ts';
import { loadNow } from './machine.ts';
import { median, p95 } from './stats.ts';

export interface LimitsCounts {
  /** Sequential spawns measured (after one warm-up). */
  sequential: number;
  /** Tasks run through a pool of `cores` parallel spawns. */
  parallel: number;
  /** Sequential spawns of the TypeScript entry through tsx, for comparison (0: skip). */
  tsxSequential: number;
  /** Tasks moved through the folders in the file-system loop. */
  fsTasks: number;
}

export interface SpawnFigures {
  count: number;
  median_ms: number | null;
  p95_ms: number | null;
  boot_median_ms: number | null;
  run_median_ms: number | null;
  exit_median_ms: number | null;
}

export interface LimitsResult {
  cores: number;
  worker_entry: 'compiled' | 'tsx';
  sequential: SpawnFigures;
  /** The TypeScript entry through tsx, when the in-use entry is compiled. */
  sequential_tsx: SpawnFigures | null;
  parallel: { count: number; concurrency: number; wall_s: number; tasks_per_s: number };
  fs: { count: number; per_task_us: number; write_us: number; rename_queue_to_processing_us: number; rename_processing_to_complete_us: number };
}

function figures(runs: SpawnTiming[]): SpawnFigures {
  const of = (f: (r: SpawnTiming) => number) => runs.map(f);
  return {
    count: runs.length,
    median_ms: median(of((r) => r.totalMs)),
    p95_ms: p95(of((r) => r.totalMs)),
    boot_median_ms: median(of((r) => r.bootMs)),
    run_median_ms: median(of((r) => r.runMs)),
    exit_median_ms: median(of((r) => r.exitMs)),
  };
}

async function sequential(d: NoopDir, count: number, entry: 'in-use' | 'tsx', prefix: string): Promise<SpawnTiming[]> {
  await runWorkerOnce(d, await writeNoopTask(d, `${prefix}-warmup`), entry);
  const runs: SpawnTiming[] = [];
  for (let i = 0; i < count; i++) runs.push(await runWorkerOnce(d, await writeNoopTask(d, `${prefix}-${i}`), entry));
  return runs;
}

async function parallel(d: NoopDir, count: number, concurrency: number): Promise<{ wall_s: number; tasks_per_s: number }> {
  const files = await Promise.all(Array.from({ length: count }, (_, i) => writeNoopTask(d, `par-${i}`)));
  let next = 0;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < files.length) await runWorkerOnce(d, files[next++]!);
  }));
  const wall = (Date.now() - t0) / 1000;
  return { wall_s: wall, tasks_per_s: count / wall };
}

async function fileSystem(count: number): Promise<LimitsResult['fs']> {
  const paths = await makeMount('forge-bench-fs-');
  const store = new TaskStore(paths);
  const tasks = Array.from({ length: count }, (_, i) => noopTask(paths.root, `fs-${i}`));
  let write = 0;
  let claim = 0;
  let done = 0;
  const t0 = process.hrtime.bigint();
  for (const t of tasks) {
    const a = process.hrtime.bigint();
    await store.write('queue', t);
    const b = process.hrtime.bigint();
    await store.claim(t.id);
    const c = process.hrtime.bigint();
    await store.move(t.id, 'processing', 'complete');
    const e = process.hrtime.bigint();
    write += Number(b - a);
    claim += Number(c - b);
    done += Number(e - c);
  }
  const total = Number(process.hrtime.bigint() - t0);
  await rm(paths.root, { recursive: true, force: true });
  const us = (ns: number) => ns / 1000 / count;
  return { count, per_task_us: us(total), write_us: us(write), rename_queue_to_processing_us: us(claim), rename_processing_to_complete_us: us(done) };
}

export interface SpawnBaseline {
  /** Which measurement it sits right before. */
  before: string;
  at: string;
  load: number;
  sequential: SpawnFigures;
  parallel: { count: number; concurrency: number; wall_s: number; tasks_per_s: number };
}

/**
 * The spawn floor again, right before a measurement that is compared with it: on a machine
 * shared with other work the floor moves within minutes, and a ratio is only as good as
 * the two figures being taken under the same load.
 */
export async function measureSpawnBaseline(tmp: string, before: string, sequentialCount: number, parallelCount: number): Promise<SpawnBaseline> {
  const cores = availableParallelism();
  const d = await makeNoopDir(join(tmp, `baseline-${before}`));
  const seq = await sequential(d, sequentialCount, 'in-use', 'seq');
  const par = await parallel(d, parallelCount, cores);
  return { before, at: new Date().toISOString(), load: loadNow(), sequential: figures(seq), parallel: { count: parallelCount, concurrency: cores, ...par } };
}

export async function measureLimits(tmp: string, counts: LimitsCounts): Promise<LimitsResult> {
  const cores = availableParallelism();
  const d = await makeNoopDir(join(tmp, 'limits'));
  const entry = entryInUse();
  const seq = await sequential(d, counts.sequential, 'in-use', 'seq');
  const seqTsx = entry === 'compiled' && counts.tsxSequential > 0 ? await sequential(d, counts.tsxSequential, 'tsx', 'tsx') : null;
  const par = await parallel(d, counts.parallel, cores);
  const fs = await fileSystem(counts.fsTasks);
  return {
    cores,
    worker_entry: entry,
    sequential: figures(seq),
    sequential_tsx: seqTsx ? figures(seqTsx) : null,
    parallel: { count: counts.parallel, concurrency: cores, ...par },
    fs,
  };
}
