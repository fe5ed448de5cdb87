// The per-task floor: our worker entry point started for a no-op task and its one JSON line
// read back, exactly as the GPU agent does it (spawnWorker, parseWorkerStdout). Used by the
// limits and by the BullMQ peer, so both sides pay the same floor.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { writeJsonAtomic } from '../../agents/core/atomic.ts';
import { defaultGpus, writeConfig } from '../../agents/core/config.ts';
import { Task, type WorkerResult } from '../../agents/core/task.ts';
import { nodeArgsFor } from '../../agents/core/entry.ts';
import { spawnWorker } from '../../agents/gpu/spawnWorker.ts';
import { parseWorkerStdout } from '../../agents/core/workerProtocol.ts';

const workerTs = fileURLToPath(new URL('../../agents/worker/main.ts', import.meta.url));

/** 'compiled' when the agents start workers from dist/ (npm run build), else 'tsx'. */
export function entryInUse(): 'compiled' | 'tsx' {
  return nodeArgsFor('worker/main').includes('tsx') ? 'tsx' : 'compiled';
}

export interface NoopDir {
  dir: string;
  configFile: string;
}

/**
 * A folder laid out as a mount: a config for the worker to load, room for task files, and the
 * batch folder the sandbox insists on (<mount>/plans/<plan>/batches/<batch>, the one place it
 * makes writable), so the floor is measured with the sandbox the rig uses.
 */
export async function makeNoopDir(dir: string): Promise<NoopDir> {
  await mkdir(join(dir, 'tasks'), { recursive: true });
  await mkdir(noopBatchPath(dir), { recursive: true });
  const configFile = join(dir, 'config.json');
  await writeConfig(configFile, { gpus: defaultGpus(1, 11435) });
  return { dir, configFile };
}

function noopBatchPath(dir: string): string {
  return join(dir, 'plans', 'bench', 'batches', 'bench');
}

/** A claimed no-op shell task (argv `true`), as it sits in processing/ when its worker starts. */
export function noopTask(dir: string, name: string): Task {
  return Task.parse({
    id: `bench__${name}`, batch: 'bench', plan: 'bench', name, task_class: 'cpu', command: 'true', argv: ['true'],
    cwd: noopBatchPath(dir), batch_path: noopBatchPath(dir), vram_estimate_mb: 0, timeout_s: 60, max_attempts: 1,
    attempt: 1, created_at: new Date().toISOString(),
  });
}

export async function writeNoopTask(d: NoopDir, name: string): Promise<{ task: Task; file: string }> {
  const task = noopTask(d.dir, name);
  const file = join(d.dir, 'tasks', `${task.id}.json`);
  await writeJsonAtomic(file, task);
  return { task, file };
}

export interface SpawnTiming {
  /** Spawn to exit and result read, ms. */
  totalMs: number;
  /** Spawn to the worker's own started_at (node start, loader, imports), ms. */
  bootMs: number;
  /** The worker's started_at to finished_at (policy, running `true`, logs), ms. */
  runMs: number;
  /** The worker's finished_at to its exit being seen and its result parsed, ms. */
  exitMs: number;
  result: WorkerResult;
}

/**
 * Runs the worker for a task file and reads its result. `entry` 'in-use' starts it with
 * the agent's own spawnWorker; 'tsx' forces the TypeScript entry through the loader.
 */
export async function runWorkerOnce(d: NoopDir, t: { task: Task; file: string }, entry: 'in-use' | 'tsx' = 'in-use'): Promise<SpawnTiming> {
  const t0 = Date.now();
  const proc = entry === 'in-use'
    ? spawnWorker({ taskJson: JSON.stringify(t.task), agent: 'bench', taskId: t.task.id, attempt: t.task.attempt, configFile: d.configFile, ollamaUrl: 'http://127.0.0.1:9', gpuId: 0, model: 'none', extraEnv: {} })
    : execa(process.execPath, ['--import', 'tsx', workerTs, '--task-file', t.file, '--config', d.configFile, '--ollama-url', 'http://127.0.0.1:9'], {
      reject: false, detached: true, stdin: 'ignore', stderr: 'pipe', env: { CUDA_VISIBLE_DEVICES: '0' }, cleanup: false,
    });
  const res = await proc;
  const parsed = parseWorkerStdout(String(res.stdout ?? ''), t.task.id, t.task.attempt);
  const t1 = Date.now();
  if (!parsed.ok) throw new Error(`the no-op worker gave no valid result: ${parsed.reason}; stderr: ${String(res.stderr ?? '').slice(-400)}`);
  if (parsed.result.outcome !== 'success') throw new Error(`the no-op worker did not succeed: ${parsed.result.outcome}: ${parsed.result.reason}`);
  const started = Date.parse(parsed.result.started_at);
  const finished = Date.parse(parsed.result.finished_at);
  return { totalMs: t1 - t0, bootMs: started - t0, runMs: finished - started, exitMs: t1 - finished, result: parsed.result };
}
