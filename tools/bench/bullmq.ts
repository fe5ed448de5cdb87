// 7. A peer in the same run: BullMQ on a real redis-server running the same two workloads,
// each job spawning the same worker subprocess for a no-op task (noopWorker.ts), so both
// queues pay the same per-task floor. Independent jobs for throughput; a flow whose jobs
// each have the previous one as their only child for the hop.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FlowProducer, Queue, Worker, type FlowJob, type Job } from 'bullmq';
import { makeNoopDir, runWorkerOnce, writeNoopTask, type NoopDir } from './noopWorker.ts';
import { taskNames } from './plans.ts';
import { startRedis } from './redis.ts';
import { spread, type Spread } from './timeline.ts';
import { readProc } from './procStat.ts';

export interface BullmqResult {
  redis: string;
  workers: number;
  concurrency_per_worker: number;
  throughput: { tasks: number; tasks_per_s: number; busy_s: number };
  /**
   * Its coordination CPU per task in the throughput run, ms: redis-server, and this process's
   * own CPU (BullMQ's workers and their spawns; the workers' own CPU is their children's, apart).
   */
  cpu: { coord_ms_per_task: number; redis_ms_per_task: number; client_ms_per_task: number } | null;
  hop: { links: number; hops: number; hop: Spread };
}

interface Ran {
  /** When the processor took the job (ms). */
  took: number;
  started: number;
  finished: number;
}

/** Runs the jobs of one queue with `workers` workers; resolves when `expected` jobs have run. */
async function runQueue(
  connection: { host: string; port: number },
  queueName: string,
  d: NoopDir,
  workers: number,
  concurrency: number,
  expected: number,
  enqueue: () => Promise<unknown>,
  timeoutMs: number,
): Promise<Map<string, Ran>> {
  const ran = new Map<string, Ran>();
  let done!: () => void;
  let failed!: (err: Error) => void;
  const finished = new Promise<void>((resolve, reject) => {
    done = resolve;
    failed = reject;
  });
  const processor = async (job: Job) => {
    const took = Date.now();
    const t = await writeNoopTask(d, `${queueName}-${job.name}`);
    const r = await runWorkerOnce(d, t);
    ran.set(job.name, { took, started: Date.parse(r.result.started_at), finished: Date.parse(r.result.finished_at) });
    if (ran.size === expected) done();
    return r.result.outcome;
  };
  // Its best settings for this work: jobs of a few ms need no lock renewal timer each, and no
  // stalled-job sweep (nothing crashes here); the rest are BullMQ's defaults.
  const ws = Array.from({ length: workers }, () => new Worker(queueName, processor, { connection, concurrency, skipLockRenewal: true, skipStalledCheck: true }));
  for (const w of ws) w.on('failed', (_job, err) => failed(err));
  const timer = setTimeout(() => failed(new Error(`BullMQ ${queueName}: ${ran.size} of ${expected} jobs ran in ${timeoutMs} ms`)), timeoutMs);
  try {
    await Promise.all(ws.map((w) => w.waitUntilReady()));
    await enqueue();
    await finished;
  } finally {
    clearTimeout(timer);
    await Promise.all(ws.map((w) => w.close()));
  }
  return ran;
}

/** The chain as a flow: each job's only child is the job before it, so t0001 runs first. */
function chainFlow(queueName: string, names: string[]): FlowJob {
  let node: FlowJob = { name: names[0]!, queueName, data: {} };
  for (const name of names.slice(1)) node = { name, queueName, data: {}, children: [node] };
  return node;
}

export async function measureBullmq(tmp: string, opts: { tasks: number; links: number; workers: number; concurrency: number; timeoutMs: number }): Promise<BullmqResult> {
  const redis = await startRedis();
  const dir = join(tmp, 'bullmq');
  await mkdir(dir, { recursive: true });
  const d = await makeNoopDir(dir);
  const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
  try {
    const names = taskNames(opts.tasks);
    const queue = new Queue('bench-independent', { connection });
    const redisBefore = redis.pid ? await readProc(redis.pid) : null;
    const ownBefore = process.cpuUsage();
    const tp = await runQueue(connection, 'bench-independent', d, opts.workers, opts.concurrency, names.length,
      () => queue.addBulk(names.map((name) => ({ name, data: {}, opts: { removeOnComplete: true } }))), opts.timeoutMs);
    const own = process.cpuUsage(ownBefore);
    const redisAfter = redis.pid ? await readProc(redis.pid) : null;
    await queue.close();
    const list = [...tp.values()];
    const per = (ms: number) => Math.round((ms * 100) / Math.max(1, list.length)) / 100;
    const redisMs = redisBefore && redisAfter ? (redisAfter.cpuS - redisBefore.cpuS) * 1000 : null;
    const clientMs = (own.user + own.system) / 1000;
    const cpu = redisMs === null ? null : { coord_ms_per_task: per(redisMs + clientMs), redis_ms_per_task: per(redisMs), client_ms_per_task: per(clientMs) };
    const first = Math.min(...list.map((r) => r.took));
    const last = Math.max(...list.map((r) => r.finished));
    const busy = (last - first) / 1000;

    const chain = taskNames(opts.links);
    const flow = new FlowProducer({ connection });
    const hopRuns = await runQueue(connection, 'bench-chain', d, opts.workers, opts.concurrency, chain.length,
      () => flow.add(chainFlow('bench-chain', chain)), opts.timeoutMs);
    await flow.close();
    const hops: number[] = [];
    for (let i = 0; i + 1 < chain.length; i++) {
      const a = hopRuns.get(chain[i]!);
      const b = hopRuns.get(chain[i + 1]!);
      if (a && b) hops.push(b.started - a.finished);
    }
    return {
      redis: redis.version,
      workers: opts.workers,
      concurrency_per_worker: opts.concurrency,
      throughput: { tasks: list.length, tasks_per_s: list.length / busy, busy_s: busy },
      cpu,
      hop: { links: opts.links, hops: hops.length, hop: spread(hops) },
    };
  } finally {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
