// brain/inbox/*.json: a submission. `submit` writes one; the RPi, with no Node, may write
// {"plan": "NAME", "config": {...}} by hand. The brain gives a hand-written one its batch id.
import * as z from './zod.ts';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeJsonAtomic, isTempName } from './atomic.ts';
import { readJsonFile } from './mountJson.ts';
import type { RetryOptions } from './mountRead.ts';
import { type MountPaths, childPath, isSafeName } from './paths.ts';

/** Characters of a batch id: task file names are <batch_id>__<task>.<n>.json and must fit in 255 bytes. */
export const BATCH_ID_MAX = 64;

/** Why a batch id cannot be used, or null. newBatchId's ids (20261126-081500-3fa9c1) always can. */
export function batchIdProblem(id: string): string | null {
  if (!isSafeName(id)) return `'${id.slice(0, 80)}' is not a safe name: use letters, digits, '.', '_' and '-', starting with a letter or digit`;
  if (id.includes('__')) return `'${id}' contains '__', which separates the batch from the task in task ids (<batch_id>__<task>): a task of this batch would be taken for one of batch '${id.slice(0, id.indexOf('__'))}'; use single '_' or '-'`;
  if (id.length > BATCH_ID_MAX) return `'${id.slice(0, 80)}' is ${id.length} characters, over the limit of ${BATCH_ID_MAX} (task file names must fit); use a shorter id, or leave batch_id out`;
  return null;
}

/** Strict: a misspelled key (`confg`) is refused with the closest allowed one, never dropped for its default. */
export const Submission = z.strictObject({
  /** Name of the plan folder under <shared>/plans/. */
  plan: z.string().check(z.refine(isSafeName, { message: 'must be the name of a folder under <shared>/plans/' })),
  /** Input values overriding the plan's defaults; each arrives as one literal argument. */
  config: z._default(z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])), {}),
  /** Set by submit, or by the brain for a hand-written submission. */
  batch_id: z.optional(
    z.string().check(
      z.superRefine((id, ctx) => {
        const problem = batchIdProblem(id);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    ),
  ),
  submitted_at: z.optional(z.string()),
  /** 1 (highest) to 5 (lowest); overrides the plan's front matter `priority:` (default 3). */
  priority: z.optional(z.number().check(z.int(), z.gte(1), z.lte(5))),
  /** true: not a new batch but `forge submit --resume`: batch_id names the failed or cancelled batch to reopen (brain/resume.ts). */
  resume: z.optional(z.boolean()),
});
export type Submission = z.infer<typeof Submission>;

/** Batch ids sort by time: 20261126-081500-3fa9c1. */
export function newBatchId(now = Date.now()): string {
  const t = new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${t}-${randomBytes(3).toString('hex')}`;
}

export async function writeSubmission(paths: MountPaths, sub: Submission & { batch_id: string }): Promise<string> {
  const file = childPath(paths.inbox, `${sub.batch_id}.json`, 'batch id');
  await writeJsonAtomic(file, sub);
  return file;
}

/**
 * Submissions waiting in the inbox: every entry named *.json that is not a temporary, whatever
 * it is. One that is not a regular file (a FIFO, a directory, a symlink) is listed too, so the
 * brain rejects it with the reason instead of leaving it there unexplained; only its type is
 * looked at here, it is never opened.
 */
export async function listInbox(paths: MountPaths): Promise<string[]> {
  try {
    return (await readdir(paths.inbox, { withFileTypes: true }))
      .filter((e) => !isTempName(e.name) && e.name.endsWith('.json'))
      .map((e) => join(paths.inbox, e.name))
      .sort();
  } catch {
    return [];
  }
}

/**
 * The problem with a submission, or the submission. `torn` says the file may still be being
 * written (a person writing it by hand, a half-copied file): it did not parse, or could not be
 * opened. A file that is not a regular file, is too big, or is JSON of the wrong shape will
 * never be right.
 */
export type SubmissionRead = { ok: true; sub: Submission } | { ok: false; error: string; torn: boolean; missing?: boolean };

/**
 * Reads a submission listed a moment ago. A read that fails for a reason that passes on a
 * shared mount (ESTALE, EIO, or not visible through this client's cache although listed) is
 * read again for a few tries (retry; default up to READ_GIVE_UP_MS); still failing, it is
 * `missing` (look again next pass) or `torn` (rejected only once it has stayed so for the grace).
 */
export async function readSubmission(file: string, retry: RetryOptions = { missingToo: true }): Promise<SubmissionRead> {
  const r = await readJsonFile(file, Submission, 'a submission {"plan": "NAME", "config": {...}}', { retry });
  if (r.ok) return { ok: true, sub: r.value };
  if (r.why === 'invalid') return { ok: false, error: (r.problems ?? [r.problem]).map((p) => `${file}: ${p}`).join('\n'), torn: false };
  if (r.why === 'not_json') return { ok: false, error: `${file}: ${r.problem}`, torn: true };
  return { ok: false, error: `${r.detail ?? `${file}: ${r.problem}`}; expected a file {"plan": "NAME", "config": {...}}`, torn: r.why === 'unreadable', missing: r.missing };
}
