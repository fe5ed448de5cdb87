// A task's checkpoint folder: {BATCH_PATH}/checkpoints/<task name>/, the same for every attempt
// of the task, so a long task that records its progress there resumes where its last attempt
// stopped (after a kill, a lost agent, a timeout). The worker creates it before the task runs
// and passes it as FORGE_CHECKPOINT_DIR (and the plan's {CHECKPOINT_DIR}); nothing of the rig
// ever clears it: it goes when the batch folder goes.
//
// Invariant: the folder is a direct child of <batch folder>/checkpoints/, named by the task's
// name (a plan task name, or <template>.<n> for a foreach child), which childPath checks is one
// safe path segment: no separator, no '..', so no name can steer it out of the batch folder.
import { lchown, lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { childPath } from './paths.ts';

/** The placeholder a command uses for it: {CHECKPOINT_DIR}. */
export const CHECKPOINT_DIR = 'CHECKPOINT_DIR';
/** The environment variable a task reads it from. */
export const CHECKPOINT_ENV = 'FORGE_CHECKPOINT_DIR';

/** <batchPath>/checkpoints/<taskName>; throws when the name is not one safe path segment. */
export function checkpointDir(batchPath: string, taskName: string): string {
  return childPath(join(batchPath, 'checkpoints'), taskName, 'task name');
}

/**
 * Creates the task's checkpoint folder when it is not there yet, keeping what an earlier
 * attempt left in it. The batch folder is writable by the batch's tasks, so `checkpoints/` or
 * the task's folder may have been replaced by a symlink: the task is then refused rather than
 * handed a folder somewhere else. Returns the folder, or throws with the reason.
 */
export async function prepareCheckpointDir(batchPath: string, taskName: string): Promise<string> {
  const dir = checkpointDir(batchPath, taskName);
  const parent = join(batchPath, 'checkpoints');
  await mkdir(parent, { recursive: true });
  await mustBeFolder(parent);
  await mkdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  await mustBeFolder(dir);
  return dir;
}

async function mustBeFolder(path: string): Promise<void> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) throw new Error(`${path} is a symlink; a checkpoint folder must be a real folder inside the batch folder (remove the link)`);
  if (!st.isDirectory()) throw new Error(`${path} is not a folder (remove it: the rig makes the checkpoint folder)`);
}

/** With sandbox.user, the task runs as another user: its checkpoint folder becomes that user's, so the task can write it. */
export async function giveCheckpointTo(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  await lchown(dir, owner.uid, owner.gid);
}
