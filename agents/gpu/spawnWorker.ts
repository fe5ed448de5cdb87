// How the agent starts a worker: node with the worker entry point, an argument array, and
// the GPU chosen by the agent in CUDA_VISIBLE_DEVICES (never by the plan).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The worker entry: compiled JavaScript when a build exists (faster start), else TypeScript through tsx. */
export function workerEntry(): { args: string[] } {
  const compiled = fileURLToPath(new URL('../../dist/agents/worker/main.js', import.meta.url));
  if (existsSync(compiled)) return { args: [compiled] };
  return { args: ['--import', 'tsx', `${here}../worker/main.ts`] };
}

export interface SpawnOptions {
  taskFile: string;
  configFile: string;
  ollamaUrl: string;
  gpuId: number;
  model: string;
  extraEnv: Record<string, string>;
}

export function spawnWorker(o: SpawnOptions): ResultPromise<{ reject: false; detached: true; stdin: 'ignore'; stderr: 'pipe' }> {
  const { args } = workerEntry();
  return execa(process.execPath, [...args, '--task-file', o.taskFile, '--config', o.configFile, '--ollama-url', o.ollamaUrl], {
    reject: false,
    // Its own process group: kill(-pid) reaches the worker and everything it started.
    detached: true,
    stdin: 'ignore',
    stderr: 'pipe',
    env: { ...o.extraEnv, CUDA_VISIBLE_DEVICES: String(o.gpuId), FORGE_AGENT_MODEL: o.model },
    cleanup: false,
  });
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

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
