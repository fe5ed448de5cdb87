// Operator controls: control/<kind>/<target>, empty files a person creates with `forge cancel|
// retry|pause|resume TARGET` or by hand with touch (the Pi needs no Node for it):
//   control/cancel/<batch or task id>   the batch (or the one task) is cancelled: nothing of it
//                                        is claimed again, its running workers are stopped by
//                                        their agents, the brain ends it `cancelled`;
//   control/retry/<batch or task id>    one-shot: the brain gives the failed tasks fresh
//                                        attempts (reopening a finished batch), then removes it;
//   control/pause/<rig|agent|batch id>  nothing new is claimed (rig: anywhere; agent: by that
//                                        agent; batch: of that batch) until `forge resume`
//                                        removes the file. Running work finishes.
// Only the names are read, never the contents: nothing in control/ is opened, so a FIFO or a
// huge file there costs nothing. A name that is not a safe name is ignored.
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';
import { batchOfTaskId } from './batch.ts';
import { isGone } from './errors.ts';
import { type MountPaths, childPath, isSafeName } from './paths.ts';

export const CONTROL_KINDS = ['cancel', 'retry', 'pause'] as const;
export type ControlKind = (typeof CONTROL_KINDS)[number];

/** The pause target that stops claiming on every agent. */
export const RIG = 'rig';

/** Names beyond this many in one folder are not read (a runaway script must not stall a claim pass). */
const MAX_CONTROLS = 10_000;

export interface Controls {
  cancel: ReadonlySet<string>;
  retry: ReadonlySet<string>;
  pause: ReadonlySet<string>;
}

export const NO_CONTROLS: Controls = { cancel: new Set(), retry: new Set(), pause: new Set() };

export function controlDir(paths: MountPaths, kind: ControlKind): string {
  return join(paths.control, kind);
}

export function controlPath(paths: MountPaths, kind: ControlKind, target: string): string {
  return childPath(controlDir(paths, kind), target, `${kind} target`);
}

async function names(dir: string): Promise<Set<string>> {
  try {
    const all = await readdir(dir);
    // Temporary names of a write in progress (.name.pid.tmp) start with a dot: not safe names.
    return new Set(all.slice(0, MAX_CONTROLS).filter(isSafeName));
  } catch (err) {
    if (isGone(err)) return new Set();
    throw err;
  }
}

/** Every control on the mount, by kind (names only). */
export async function readControls(paths: MountPaths, kinds: readonly ControlKind[] = CONTROL_KINDS): Promise<Controls> {
  const out = { cancel: new Set<string>(), retry: new Set<string>(), pause: new Set<string>() };
  await Promise.all(kinds.map(async (k) => (out[k] = await names(controlDir(paths, k)))));
  return out;
}

/** Creates the control file (empty, whole); returns its path. */
export async function writeControl(paths: MountPaths, kind: ControlKind, target: string): Promise<string> {
  const file = controlPath(paths, kind, target);
  await writeFileAtomic(file, '');
  return file;
}

/** Removes the control file; false when there was none. */
export async function removeControl(paths: MountPaths, kind: ControlKind, target: string): Promise<boolean> {
  try {
    await unlink(controlPath(paths, kind, target));
    return true;
  } catch (err) {
    if (isGone(err)) return false;
    throw err;
  }
}

/** A finished batch's cancels (its own and its tasks') and its pause, removed; errors ignored (a leftover only costs a name in a listing). */
export async function clearControls(paths: MountPaths, batch: string, taskIds: readonly string[]): Promise<void> {
  const cancels = await names(controlDir(paths, 'cancel')).catch(() => new Set<string>());
  for (const id of [batch, ...taskIds]) if (cancels.has(id)) await removeControl(paths, 'cancel', id).catch(() => false);
  await removeControl(paths, 'pause', batch).catch(() => false);
}

/** Whether the task is cancelled: by its own id, or by its batch's. */
export function isCancelled(c: Pick<Controls, 'cancel'>, taskId: string): boolean {
  return c.cancel.has(taskId) || c.cancel.has(batchOfTaskId(taskId));
}

/** Why this agent claims nothing now (the rig or it is paused), or null. */
export function agentPause(c: Pick<Controls, 'pause'>, agent: string): string | null {
  if (c.pause.has(RIG)) return 'the rig is paused (control/pause/rig; forge resume rig)';
  if (c.pause.has(agent)) return `${agent} is paused (control/pause/${agent}; forge resume ${agent})`;
  return null;
}

/** Why this task is not claimed (cancelled, or its batch paused), or null. */
export function taskHeld(c: Controls, taskId: string): { rule: 'cancelled' | 'paused'; reason: string } | null {
  if (isCancelled(c, taskId)) return { rule: 'cancelled', reason: 'cancelled (control/cancel/)' };
  const batch = batchOfTaskId(taskId);
  if (c.pause.has(batch)) return { rule: 'paused', reason: `batch ${batch} is paused (forge resume ${batch})` };
  return null;
}
