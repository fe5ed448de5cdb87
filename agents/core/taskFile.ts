// One task file, and one task folder, looked at without side effects: what the store acts on
// (quarantine, retry) and what status and doctor only report. Folder entries are judged by
// their type from the listing alone, so a FIFO or a device is never opened; files are read
// through readMountFile, bounded.
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { isTempName } from './atomic.ts';
import { isGone } from './errors.ts';
import { parseJsonText, readProblem } from './mountJson.ts';
import { MAX_RECORD_BYTES, readMountFile } from './mountRead.ts';
import { isSafeName } from './paths.ts';
import { Task } from './task.ts';

/** A task file larger than this (bytes) is not one the rig wrote: 1 MiB. */
export const MAX_TASK_BYTES = MAX_RECORD_BYTES;

export type TaskFileRead =
  /** text: the file as read, so that a writer can tell later whether it still holds the same. */
  | { ok: true; task: Task; text: string }
  | { ok: false; why: 'missing'; problem: string }
  /** May read well on a later look: a torn read of a file being replaced, permissions, I/O errors. */
  | { ok: false; why: 'not_ready'; problem: string }
  /** Never will: not a regular file, too big, valid JSON that is not this task. */
  | { ok: false; why: 'garbage'; problem: string };

/**
 * A task file's text judged: a task, or why not. Text that is not JSON may be a torn read
 * (half a file being replaced) and is not_ready; JSON that is not this task is garbage.
 */
export function parseTaskText(text: string, id: string): TaskFileRead {
  const checked = parseJsonText(text, Task, 'a valid task');
  if (!checked.ok) return { ok: false, why: checked.why === 'not_json' ? 'not_ready' : 'garbage', problem: checked.problem };
  if (checked.value.id !== id) return { ok: false, why: 'garbage', problem: `file name says ${id} but the task id is ${checked.value.id}` };
  return { ok: true, task: checked.value, text };
}

/** Reads and judges one task file; never throws, never hangs, never reads more than MAX_TASK_BYTES. Problems leave out the path. */
export async function readTaskFile(file: string, id: string): Promise<TaskFileRead> {
  const r = await readMountFile(file, { maxBytes: MAX_TASK_BYTES });
  if (r.ok) return parseTaskText(r.text, id);
  const problem = readProblem(r, file);
  if (r.why === 'missing') return { ok: false, why: 'missing', problem };
  if (r.why === 'unreadable') return { ok: false, why: 'not_ready', problem };
  return { ok: false, why: 'garbage', problem };
}

/** What a folder entry is by its type, for one that is not a regular file; null for a regular file. */
export function entryKind(e: Dirent): string | null {
  if (e.isFile()) return null;
  if (e.isDirectory()) return 'a directory';
  if (e.isFIFO()) return 'a FIFO';
  if (e.isSymbolicLink()) return 'a symlink';
  if (e.isSocket()) return 'a socket';
  if (e.isCharacterDevice()) return 'a character device';
  if (e.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

export interface FolderEntryProblem {
  name: string;
  problem: string;
}

export interface FolderSurvey {
  /** Ids of the regular files named <safe id>.json. */
  ids: string[];
  /** Entries that are no task file: foreign names, and anything that is not a regular file. */
  bad: FolderEntryProblem[];
  /** Regular files with a temporary name (a writer's, or a replace's taken file). */
  temps: string[];
}

/** The task id a file name gives, or null. */
export function taskIdOf(name: string): string | null {
  const id = name.endsWith('.json') ? name.slice(0, -5) : null;
  return id && isSafeName(id) ? id : null;
}

/**
 * One listing of a task folder, judged by name and type only. Temporary names that are not
 * regular files are left out (a writer's, or a lock folder: never opened, never moved).
 * A folder that is gone reads as empty; one that cannot be listed throws.
 */
export async function surveyFolder(dir: string): Promise<FolderSurvey> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isGone(err)) return { ids: [], bad: [], temps: [] };
    throw err;
  }
  const out: FolderSurvey = { ids: [], bad: [], temps: [] };
  for (const e of entries) {
    const kind = entryKind(e);
    if (isTempName(e.name)) {
      if (kind === null) out.temps.push(e.name);
      continue;
    }
    const id = taskIdOf(e.name);
    if (kind !== null) out.bad.push({ name: e.name, problem: `is ${kind}, not a regular file (a task is a file <task id>.json)` });
    else if (id === null) out.bad.push({ name: e.name, problem: 'not a task file (expected <task id>.json)' });
    else out.ids.push(id);
  }
  return out;
}
