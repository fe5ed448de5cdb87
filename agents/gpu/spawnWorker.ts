// How the agent starts a worker: node with the worker entry point, an argument array, and
// the GPU chosen by the agent in CUDA_VISIBLE_DEVICES (never by the plan).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';

const here = fileURLToPath(new URL('.', import.meta.url));

const root = fileURLToPath(new URL('../../', import.meta.url));
const bundle = `${root}dist/agents/worker/main.js`;

/** True when `npm run build`'s bundle exists and none of the sources it lists changed after it. */
function bundleIsFresh(): boolean {
  try {
    const built = statSync(bundle).mtimeMs;
    const inputs = JSON.parse(readFileSync(`${root}dist/agents/worker/main.inputs.json`, 'utf8')) as unknown;
    if (!Array.isArray(inputs) || inputs.length === 0) return false;
    return inputs.every((f) => typeof f === 'string' && statSync(join(root, f)).mtimeMs <= built);
  } catch {
    return false; // no build, no list, or a source that moved: the TypeScript entry
  }
}

let lastEntry: { at: number; args: string[] } | null = null;

/**
 * The worker entry: the bundle from `npm run build` (a start several times faster) while it
 * is fresh, else TypeScript through tsx: a stale bundle would run old code.
 */
export function workerEntry(): { args: string[] } {
  // Checked at most once a second (a stat of each source the bundle lists).
  const now = Date.now();
  if (lastEntry && now - lastEntry.at < 1000) return { args: lastEntry.args };
  const args = bundleIsFresh() ? [bundle] : ['--import', 'tsx', `${here}../worker/main.ts`];
  lastEntry = { at: now, args };
  return { args };
}

export interface SpawnOptions {
  /** The task file; or, better, taskJson: the task exactly as claimed (processing/ may hold a later claim by then). */
  taskFile?: string;
  taskJson?: string;
  configFile: string;
  ollamaUrl: string;
  gpuId: number;
  model: string;
  extraEnv: Record<string, string>;
}

export function spawnWorker(o: SpawnOptions): ResultPromise<{ reject: false; detached: true; stdin: 'ignore'; stderr: 'pipe' }> {
  const { args } = workerEntry();
  return execa(process.execPath, [...args, ...(o.taskJson !== undefined ? ['--task', o.taskJson] : ['--task-file', o.taskFile ?? '']), '--config', o.configFile, '--ollama-url', o.ollamaUrl], {
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
