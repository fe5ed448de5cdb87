// Real processes for end-to-end tests: a brain, agents on simulated GPUs, plans written on the fly.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { type ConfigInput, writeConfig, defaultGpus } from '../../agents/core/config.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { initSimState, SIM_SANDBOX, simNvidiaSmiPath } from '../../agents/sim/simState.ts';
import { type Command, commandArgsFor, nodeArgsFor, projectRoot } from '../../agents/core/entry.ts';
import { waitForAgents } from '../../tools/harness/runRig.ts';
import { tempMount } from './mount.ts';

const root = new URL('../..', import.meta.url).pathname;

/** A config with short cycles, simulated GPUs and no Ollama (the LLM circuit simply opens). */
/**
 * Workers at nice 0, not the default 10: tests run side by side, and each other test's rig is
 * load a niced worker yields to (its own session group, autogroup), which made a chain of four
 * small tasks take 20 s instead of 1. The nice itself is tested where a test sets it.
 */
export const TEST_WORKERS = { nice: 0 } as const;

export async function writeTestConfig(paths: MountPaths, gpus: number, over: Partial<ConfigInput> = {}): Promise<void> {
  await initSimState(paths.sim, gpus);
  await writeConfig(paths.config, {
    gpus: defaultGpus(gpus, 1),
    nvidia_smi: simNvidiaSmiPath(),
    worker_env: { FORGE_SIM_DIR: paths.sim },
    sandbox: SIM_SANDBOX,
    cycles: { internal_s: 0.25, external_s: 1 },
    ...over,
    // Retries after a fraction of a second, not the default seconds: the tests run on real time.
    retries: { backoff_base_s: 0.2, backoff_cap_s: 1, ...over.retries },
    workers: { ...TEST_WORKERS, ...over.workers },
  });
}

// Daemons start as the launcher starts them: from their bundle while it is fresh (npm test
// builds first), else through tsx.
export function startBrain(paths: MountPaths): ResultPromise {
  return execa(process.execPath, [...nodeArgsFor('brain/main'), '--shared', paths.root], {
    reject: false, stdin: 'ignore', cleanup: true, cwd: root,
  });
}

/** An agent for one GPU; `configFile` in place of the mount's config.json (the agent's --config). */
export function startAgent(paths: MountPaths, gpu: number, configFile?: string): ResultPromise {
  return execa(process.execPath, [...nodeArgsFor('gpu/main'), '--shared', paths.root, '--gpu', String(gpu), ...(configFile ? ['--config', configFile] : [])], {
    reject: false, stdin: 'ignore', cleanup: true, cwd: root,
  });
}

/** Stops processes with SIGTERM and waits for them. */
export async function stopAll(procs: ResultPromise[]): Promise<void> {
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs);
}

/** Writes a plan folder under the mount's plans/ with plan.md and scripts. */
export async function writePlan(paths: MountPaths, name: string, planMd: string, scripts: Record<string, string> = {}): Promise<string> {
  const dir = join(paths.plans, name);
  await mkdir(join(dir, 'scripts'), { recursive: true });
  await writeFile(join(dir, 'plan.md'), planMd);
  for (const [file, text] of Object.entries(scripts)) await writeFile(join(dir, 'scripts', file), text);
  return dir;
}

/** Runs a forge command as a person would; its output. */
export async function forge(command: Command, ...args: string[]) {
  const r = await execa(process.execPath, [...commandArgsFor(command), ...args], { reject: false, cwd: projectRoot });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** A brain and `gpus` agents on a fresh temp mount with the test config (and `over`); stopped and removed after `fn`. */
export async function withRig(gpus: number, over: Parameters<typeof writeTestConfig>[2], fn: (paths: MountPaths) => Promise<void>): Promise<void> {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, gpus, over);
    const ids = Array.from({ length: gpus }, (_, i) => i);
    procs.push(startBrain(paths), ...ids.map((i) => startAgent(paths, i)));
    await waitForAgents(paths, ids, 30_000);
    await fn(paths);
  } finally {
    await stopAll(procs);
    await cleanup();
  }
}
