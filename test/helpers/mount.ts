// A fresh temporary mount per test, removed afterwards.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MountPaths, ensureMount, mountPaths } from '../../agents/core/paths.ts';
import { readDecisionLines } from '../../agents/core/spool.ts';
import { Task, type TaskInput } from '../../agents/core/task.ts';

export async function tempMount(prefix = 'forge-test-'): Promise<{ paths: MountPaths; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const paths = mountPaths(root);
  await ensureMount(paths);
  return { paths, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/**
 * Every decision line as one text: logs/brain_decisions.log and what the writers' spool files
 * hold beyond it (an agent's, the launcher's or doctor's lines reach the log only when a brain
 * merges them).
 */
export async function decisionText(paths: MountPaths): Promise<string> {
  return (await readDecisionLines(paths)).map((l) => l + '\n').join('');
}

/** A valid task with overridable fields. */
export function makeTask(over: Partial<TaskInput> & { id?: string; name?: string } = {}): Task {
  const batch = over.batch ?? 'b1';
  const name = over.name ?? 't1';
  return Task.parse({
    id: over.id ?? `${batch}__${name}`,
    batch,
    plan: 'p',
    name,
    task_class: 'cpu',
    command: 'true',
    argv: ['true'],
    cwd: '/tmp',
    batch_path: '/tmp/b',
    vram_estimate_mb: 0,
    timeout_s: 60,
    max_attempts: 3,
    created_at: '2026-01-01T00:00:00.000Z',
    ...over,
  });
}
