// How the agent starts a worker: node with the worker entry point, an argument array, and
// the GPU chosen by the agent in CUDA_VISIBLE_DEVICES (never by the plan).
import { type ChildRun, startChild } from './childRun.ts';
import { isAlive } from '../core/pids.ts';
import { nodeArgsFor } from '../core/entry.ts';
import { AGENT_ENV, ATTEMPT_ENV, TASK_ENV } from './procGroup.ts';

export interface SpawnOptions {
  /** The task exactly as claimed (processing/ may hold a later claim by then), written to the worker's stdin. */
  taskJson: string;
  /** Who starts it and for which attempt: put in its environment, the proof that its processes are ours. */
  agent: string;
  taskId: string;
  attempt: number;
  configFile: string;
  /** The mount's root: the worker's sandbox checks a task's batch folder against it (default: the config file's folder). */
  shared?: string;
  ollamaUrl: string;
  gpuId: number;
  model: string;
  /** The runtime's name for the task's model (an adapter version's model), when it differs (FORGE_AGENT_SERVED_MODEL). */
  servedModel?: string | null;
  /** The runtime's protocol (gpus[].runtime); default ollama. */
  runtime?: string;
  extraEnv: Record<string, string>;
  /** CPU niceness of the worker and its task (workers.nice); default 0. */
  nice?: number;
}

export function spawnWorker(o: SpawnOptions): ChildRun {
  // The worker's bundle from `npm run build` while fresh, else its TypeScript through tsx.
  const args = nodeArgsFor('worker/main');
  // The task goes on stdin, not the command line: an argument over 128 KiB (a long command,
  // a long prompt) would make the spawn fail with E2BIG. Its own process group: kill(-pid)
  // reaches the worker and everything it started.
  return startChild(process.execPath, [...args, '--task-stdin', '--config', o.configFile, '--ollama-url', o.ollamaUrl, ...(o.shared ? ['--shared', o.shared] : [])], {
    input: o.taskJson,
    nice: o.nice,
    env: {
      ...o.extraEnv,
      CUDA_VISIBLE_DEVICES: String(o.gpuId),
      ...taskEnv(o),
      FORGE_AGENT_RUNTIME: o.runtime ?? 'ollama',
      [AGENT_ENV]: o.agent,
    },
  });
}

/** What a spare worker is started with: all that is known before its task (the rest comes in its envelope). */
export type SpareSpawnOptions = Pick<SpawnOptions, 'agent' | 'configFile' | 'shared' | 'ollamaUrl' | 'gpuId' | 'runtime' | 'extraEnv' | 'nice'>;

export type SpareProcess = ChildRun;

/**
 * A worker that boots now and waits for its task on stdin (--spare; agents/worker/main.ts).
 * stdin stays open, written only by this process: when the agent dies, the kernel closes it
 * and the spare exits (or ends the task it runs), so it cannot outlive its agent.
 */
export function spawnSpare(o: SpareSpawnOptions): SpareProcess {
  const args = nodeArgsFor('worker/main');
  // No task or attempt yet: a spare's own environment matches no attempt (processesOfAttempt);
  // its task's processes get them from the envelope. The spare itself is known by its pid.
  // V8's memory reducer runs GCs for a while after boot: CPU for nothing in a process that
  // waits, and a worker lives one task.
  return startChild(process.execPath, ['--no-memory-reducer', ...args, '--spare', '--config', o.configFile, '--ollama-url', o.ollamaUrl, ...(o.shared ? ['--shared', o.shared] : [])], {
    env: { ...o.extraEnv, CUDA_VISIBLE_DEVICES: String(o.gpuId), FORGE_AGENT_RUNTIME: o.runtime ?? 'ollama', [AGENT_ENV]: o.agent },
    nice: o.nice,
  });
}

/** The environment of a task that a spare sets before starting it: what spawnWorker gives a worker at spawn. */
export function taskEnv(o: Pick<SpawnOptions, 'taskId' | 'attempt' | 'model' | 'servedModel'>): Record<string, string> {
  return { FORGE_AGENT_MODEL: o.model, [TASK_ENV]: o.taskId, [ATTEMPT_ENV]: String(o.attempt), ...(o.servedModel ? { FORGE_AGENT_SERVED_MODEL: o.servedModel } : {}) };
}

/** Signals a whole process group; false when it is already gone. */
export function killGroup(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, sig);
    return true;
  } catch {
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  }
}

