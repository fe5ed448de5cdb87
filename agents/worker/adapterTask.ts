// promote_adapter and rollback_adapter tasks: a change of adapters/current.json made through
// the one locked, whole-file update (core/adapters.ts), and the outcome as the task's result at
// {BATCH_PATH}/outputs/<task name>.json: {"base", "adapter", "version", "changed", "message"}.
// A version may be given as a JSON file an earlier task wrote in the batch folder
// ({"version": "v3"}, optionally with "adapter"): read bounded, only inside the batch folder.
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { ADAPTER_NAME, type AdapterVersion, parseModelRef } from '../core/adapterRef.ts';
import { type Change, currentFile, entryOf, promoteVersion, readCurrent, rollbackBase } from '../core/adapters.ts';
import { writeJsonAtomic } from '../core/atomic.ts';
import { errorMessage } from '../core/errors.ts';
import { parseJsonText } from '../core/mountJson.ts';
import { readMountFileInside } from '../core/mountRead.ts';
import { childPath, mountPaths } from '../core/paths.ts';
import type { Task, WorkerResult } from '../core/task.ts';
import * as z from '../core/zod.ts';
import { type ResultTask, makeResult } from './result.ts';

const Name = z.string().check(z.regex(ADAPTER_NAME, { message: "letters, digits, '_', '.' or '-', e.g. v3" }));
const VersionFile = z.object({ version: Name, adapter: z.optional(Name) });

type Step<T> = { ok: true; value: T } | { ok: false; reason: string };

/** The version the task names: its text, or the file of an earlier task under the batch folder. */
export async function versionOf(task: Pick<Task, 'version' | 'adapter' | 'batch_path'>): Promise<Step<AdapterVersion | null>> {
  if (task.version === null) return { ok: true, value: null };
  const adapter = task.adapter;
  if (adapter === null) return { ok: false, reason: 'a version needs its adapter: give adapter' };
  const isFile = task.version.startsWith(task.batch_path + '/') && task.version.endsWith('.json');
  if (!isFile) {
    return ADAPTER_NAME.test(task.version) && ADAPTER_NAME.test(adapter)
      ? { ok: true, value: { adapter, version: task.version } }
      : { ok: false, reason: `adapter '${adapter}' version '${task.version}': letters, digits, '_', '.' or '-', at most 64` };
  }
  const r = await readMountFileInside(task.version, task.batch_path, { maxBytes: 64 * 1024 });
  if (!r.ok) return { ok: false, reason: `version file: ${r.detail}${r.why === 'missing' ? ' (the task that writes it has not, or wrote it elsewhere)' : ''}` };
  const parsed = parseJsonText(r.text, VersionFile, 'a version file ({"version": "v3"})');
  if (!parsed.ok) return { ok: false, reason: `${task.version}: ${parsed.problem}` };
  if (parsed.value.adapter !== undefined && parsed.value.adapter !== adapter) {
    return { ok: false, reason: `${task.version}: names adapter ${parsed.value.adapter}; the task names ${adapter}` };
  }
  return { ok: true, value: { adapter, version: parsed.value.version } };
}

export interface AdapterTaskContext {
  /** The mount's root. */
  shared: string;
  who: ResultTask;
  now?: () => number;
}

export async function runAdapterTask(task: Task, ctx: AdapterTaskContext): Promise<WorkerResult> {
  const now = ctx.now ?? Date.now;
  const failed = (reason: string) => makeResult(ctx.who, { outcome: 'failed', failure_kind: 'app', reason: `${task.type}: ${reason}` });
  const base = task.model;
  const ref = base === null ? null : parseModelRef(base);
  if (base === null || !ref?.ok || ref.ref.pinned) return failed(`model must name the base model alone, e.g. qwen2.5:7b; found ${JSON.stringify(base)}`);
  const paths = mountPaths(ctx.shared);
  try {
    const v = await versionOf(task);
    if (!v.ok) return failed(v.reason);
    let change: Change;
    if (task.type === 'promote_adapter') {
      if (!v.value) return failed('give adapter and version');
      change = await promoteVersion(paths, base, v.value, { now, by: task.id });
    } else if (task.type === 'rollback_adapter') {
      change = await rollbackBase(paths, base, { now, by: task.id, expect: v.value });
    } else {
      return makeResult(ctx.who, { outcome: 'error', reason: `runAdapterTask runs promote_adapter and rollback_adapter tasks, not ${task.type}` });
    }
    if (!change.ok) return failed(change.problem);
    const read = await readCurrent(paths);
    const now_ = read.ok ? entryOf(read.value, base)?.entry ?? null : null;
    const output = { base, adapter: now_?.adapter ?? null, version: now_?.version ?? null, changed: change.changed, message: change.message, current_file: currentFile(paths) };
    const outputs = join(task.batch_path, 'outputs');
    await mkdir(outputs, { recursive: true });
    await writeJsonAtomic(childPath(outputs, `${task.name}.json`, 'task name'), output);
    return makeResult(ctx.who, { outcome: 'success', reason: change.message, output });
  } catch (err) {
    // The lock or a write on the mount failed: the rig's fault, retried.
    return makeResult(ctx.who, { outcome: 'error', failure_kind: 'infra', reason: `${task.type}: ${errorMessage(err)}` });
  }
}
