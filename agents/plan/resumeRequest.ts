// `forge submit --resume BATCH`: checks that BATCH is a failed or cancelled batch of this
// mount and writes the request into brain/inbox/ (<batch>.resume.json, written whole), which
// the brain carries out on its next pass (brain/resume.ts). Anything else is refused with the
// reason and nothing is written.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { writeJsonAtomic } from '../core/atomic.ts';
import { readBatchRecordFile } from '../core/batch.ts';
import { batchIdProblem, type Submission } from '../core/inbox.ts';
import { archiveDir } from '../core/placeTask.ts';
import { TaskStore } from '../core/store.ts';
import { type MountPaths, childPath, mountPaths, planDir, resolveShared } from '../core/paths.ts';

export type ResumeRequest =
  | { ok: true; batchId: string; plan: string; was: 'failed' | 'cancelled'; inboxFile: string }
  | { ok: false; problem: string };

/** Pure: why a batch in this state cannot be resumed, or null. */
export function resumeRefusal(id: string, state: string): string | null {
  if (state === 'failed' || state === 'cancelled') return null;
  if (state === 'complete') return `batch ${id} completed: nothing to resume; submit its plan again for a new run`;
  return `batch ${id} is ${state}: only a failed or cancelled batch can be resumed; wait for it to end, or forge cancel ${id} first`;
}

export function resumeInboxFile(paths: MountPaths, batchId: string): string {
  return childPath(paths.inbox, `${batchId}.resume.json`, 'batch id');
}

export async function requestResume(paths: MountPaths, batchId: string, now = new Date()): Promise<ResumeRequest> {
  const bad = batchIdProblem(batchId);
  if (bad) return { ok: false, problem: `--resume ${batchId.slice(0, 80)}: not a batch id: ${bad}` };
  const read = await readBatchRecordFile(paths, batchId);
  if (!read.ok) {
    return { ok: false, problem: read.missing ? `no batch ${batchId} on this mount (brain/batches/${batchId}.json); forge status or forge history lists the batches` : `batch ${batchId} cannot be read: ${read.problem}` };
  }
  const rec = read.value;
  const refusal = resumeRefusal(batchId, rec.state);
  if (refusal) return { ok: false, problem: refusal };
  const dir = planDir(paths, rec.plan);
  if (!existsSync(dir)) return { ok: false, problem: `batch ${batchId}: its plan folder ${dir} is gone; a resume runs the batch's tasks from it` };
  // Archived when the batch ended; still in the folders only while a brain restarted mid-archive finishes it.
  const first = rec.task_ids[0];
  const there = existsSync(archiveDir(paths, batchId)) || (first !== undefined && (await new TaskStore(paths).locate(first).catch(() => null)) !== null);
  if (!there) return { ok: false, problem: `batch ${batchId}: its task files are gone (tasks/archive/${batchId}/ is pruned after housekeeping.archive_keep_days); submit its plan again for a new run` };
  const request: Submission = { plan: rec.plan, config: {}, batch_id: batchId, submitted_at: now.toISOString(), resume: true };
  const inboxFile = resumeInboxFile(paths, batchId);
  await writeJsonAtomic(inboxFile, request);
  return { ok: true, batchId, plan: rec.plan, was: rec.state as 'failed' | 'cancelled', inboxFile };
}

/** What `forge submit --resume BATCH` prints, and its exit status: 0, 1 for a refusal. */
export async function runResumeCommand(batchId: string, sharedFlag: string | undefined, json: boolean): Promise<number> {
  // `npm run submit` starts in the package root; a --shared a person typed is relative to where they were.
  const viaNpm = process.env.npm_lifecycle_event === 'submit' || process.env.npm_lifecycle_event === 'forge';
  const cwd = viaNpm && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();
  const shared = sharedFlag !== undefined ? resolve(cwd, sharedFlag) : resolveShared(undefined);
  const r = await requestResume(mountPaths(shared), batchId);
  if (!r.ok) {
    process.stderr.write(`submit: ${r.problem}\nsubmit: nothing was submitted\n`);
    return 1;
  }
  if (json) {
    process.stdout.write(JSON.stringify({ batch_id: r.batchId, plan: r.plan, resume: true, was: r.was, inbox_file: r.inboxFile }, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(`batch ${r.batchId} (plan ${r.plan}, ${r.was}): resume requested as ${r.inboxFile}; the brain reopens it on its next cycle, keeping every task whose inputs are unchanged and whose outputs are there\n${r.batchId}\n`);
  return 0;
}
