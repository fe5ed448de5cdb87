// A task's input key: one hash of everything its result depends on, as far as the rig can see
// it: its type, its filled command (argv; the batch's input values it uses are filled into it),
// prompt, output schema and model, and the content of the files it declares in `inputs:` or
// names in its command (core/keyFiles.ts reads them). Two runs with the same key are taken to
// make the same result: `forge submit --resume` keeps a completed task whose key is unchanged
// and whose outputs are there. Pure: the files come in already digested.
import { createHash } from 'node:crypto';
import type { Task } from './task.ts';

/** Changes when what goes into a key changes, so keys of an older rig never match by accident. */
export const KEY_VERSION = 1;

/**
 * One file as the key sees it: `sha256:<hex>` of its content; `stat:<size>:<mtime ms>` past the
 * bytes hashed per task; `missing`; `outside` (its real path leaves the plan and batch folders,
 * so it is not read); `dir` for a folder (its files follow as entries of their own);
 * `special` (a FIFO, a socket, a device: never opened); `unreadable:<code>`.
 */
export interface FileDigest {
  path: string;
  digest: string;
}

export type KeyedTask = Pick<Task, 'type' | 'argv' | 'prompt' | 'output_schema' | 'cwd'>;

/** JSON with object keys sorted, so the same schema written in another order keys the same. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** `model`: the model the task runs with (resolved from the config for an llm task), else null. */
export function inputKey(task: KeyedTask, model: string | null, files: readonly FileDigest[]): string {
  const parts = [KEY_VERSION, task.type, task.cwd, task.argv, task.prompt, task.output_schema, model, files.map((f) => [f.path, f.digest])];
  return createHash('sha256').update(canonicalJson(parts)).digest('hex');
}
