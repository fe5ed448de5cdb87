// One JSON record from the mount (config, submission, task, brain state, a batch record, a
// heartbeat, an escalation): read through readMountFile, parsed, checked against its schema.
// The one home of read + JSON.parse + schema: every way it can be wrong comes back as a
// problem in words (zodIssues.ts), never as a throw or a hang.
import type * as z from './zod.ts';
import { MAX_RECORD_BYTES, type MountFail, type MountRead, type MountReadFailure, type RetryOptions, isTransientFailure, readMountFile } from './mountRead.ts';
import { errorMessage } from './errors.ts';
import { checkSchema, joinProblems } from './zodIssues.ts';

/** Text judged as JSON of a schema: the value, or what is wrong (not_json: it did not parse; invalid: it is not that schema). */
export type JsonTextCheck<T> = { ok: true; value: T } | { ok: false; why: 'not_json' | 'invalid'; problem: string; problems: string[] };

export type JsonFileRead<T> =
  | { ok: true; value: T }
  /**
   * missing: nothing there (not a problem for most callers). Otherwise what is wrong with the
   * file, without its path. transient: it failed only for a reason that passes on a shared
   * mount (ESTALE, EIO; see mountRead.ts), even after the reads again asked for: not readable
   * yet, no verdict on the file. why: the read's failure (mountRead.ts), or the JSON's;
   * problems: each schema problem on its own (path: message); detail: the read's failure with the path.
   */
  | { ok: false; missing: boolean; problem: string; transient?: boolean; why?: MountReadFailure | 'not_json' | 'invalid'; problems?: string[]; detail?: string };

export interface JsonFileOptions {
  /** Bytes; a larger file is refused (default MAX_RECORD_BYTES). */
  maxBytes?: number;
  /** Read again what fails for a reason that passes on a shared mount (mountRead.ts). */
  retry?: RetryOptions;
  /** Follow a symlink to a regular file (a config a person links in); default false. */
  followSymlinks?: boolean;
}

/** A readMountFile failure in words, without the path (callers name the file themselves). */
export function readProblem(r: Extract<MountRead, { ok: false }>, file: string): string {
  return r.detail.startsWith(file) ? r.detail.slice(file.length).trim() : r.detail;
}

/** Pure: text parsed as JSON and checked against schema; `what` names the record, with its article ("a batch record"). */
export function parseJsonText<T>(text: string, schema: z.core.$ZodType<T>, what: string): JsonTextCheck<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const problem = `not valid JSON: ${errorMessage(err)} (expected ${what})`;
    return { ok: false, why: 'not_json', problem, problems: [problem] };
  }
  const checked = checkSchema(schema, raw);
  if (checked.ok) return checked;
  return { ok: false, why: 'invalid', problem: `not ${what}: ${joinProblems(checked.problems)}`, problems: checked.problems };
}

/** A failed read as a JsonFileRead. */
function readFailure(r: MountFail, file: string): JsonFileRead<never> {
  return { ok: false, missing: r.why === 'missing', problem: readProblem(r, file), transient: isTransientFailure(r), why: r.why, detail: r.detail };
}

/** Reads `file` as JSON of `schema`, bounded; `what` names the record in problems, with its article ("a batch record"). */
export async function readJsonFile<T>(file: string, schema: z.core.$ZodType<T>, what: string, o: JsonFileOptions = {}): Promise<JsonFileRead<T>> {
  const r = await readMountFile(file, { maxBytes: o.maxBytes ?? MAX_RECORD_BYTES, retry: o.retry, followSymlinks: o.followSymlinks });
  if (!r.ok) return readFailure(r, file);
  const checked = parseJsonText(r.text, schema, what);
  return checked.ok ? checked : { ...checked, missing: false };
}
