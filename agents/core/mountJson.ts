// One JSON record from the mount (brain state, a batch record, a heartbeat, an escalation):
// read through readMountFile, parsed, checked against its schema. Every way it can be wrong
// comes back as a problem in words, never as a throw or a hang.
import type { z } from 'zod';
import { MAX_RECORD_BYTES, type MountRead, type RetryOptions, isTransientFailure, readMountFile } from './mountRead.ts';
import { errorMessage } from './errors.ts';

export type JsonFileRead<T> =
  | { ok: true; value: T }
  /**
   * missing: nothing there (not a problem for most callers). Otherwise what is wrong with the
   * file, without its path. transient: it failed only for a reason that passes on a shared
   * mount (ESTALE, EIO; see mountRead.ts), even after the reads again asked for: not readable
   * yet, no verdict on the file.
   */
  | { ok: false; missing: boolean; problem: string; transient?: boolean };

/** A readMountFile failure in words, without the path (callers name the file themselves). */
export function readProblem(r: Extract<MountRead, { ok: false }>, file: string): string {
  return r.detail.startsWith(file) ? r.detail.slice(file.length).trim() : r.detail;
}

/** Reads `file` as JSON of `schema`; `what` names the record in problems, with its article ("a batch record"). */
export async function readJsonFile<T>(file: string, schema: z.ZodType<T>, what: string, maxBytes = MAX_RECORD_BYTES, retry?: RetryOptions): Promise<JsonFileRead<T>> {
  const r = await readMountFile(file, { maxBytes, retry });
  if (!r.ok) return { ok: false, missing: r.why === 'missing', problem: readProblem(r, file), transient: isTransientFailure(r) };
  let raw: unknown;
  try {
    raw = JSON.parse(r.text);
  } catch (err) {
    return { ok: false, missing: false, problem: `not valid JSON: ${errorMessage(err)} (expected ${what})` };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const why = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return { ok: false, missing: false, problem: `not ${what}: ${why}` };
  }
  return { ok: true, value: parsed.data };
}
