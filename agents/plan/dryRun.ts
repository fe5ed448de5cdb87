// forge submit --dry-run: everything submit checks, then what the batch would do, without
// writing anything anywhere (no plan copy, no inbox file, no folder made on the mount). It only
// reads: the plan, the rig's config.json, the agents' heartbeats, and what the brain learned
// (brain/vram_estimates.json, brain/profiles.json); buildDryRunReport decides the rest.
import { type Config, DEFAULT_CONFIG, loadConfig } from '../core/config.ts';
import { access } from 'node:fs/promises';
import { UserInputError, errorMessage } from '../core/errors.ts';
import { readHeartbeats } from '../core/heartbeat.ts';
import { newBatchId } from '../core/inbox.ts';
import { batchDir, mountPaths, type MountPaths } from '../core/paths.ts';
import { Task } from '../core/task.ts';
import { applyEstimates, readEstimates } from '../brain/learn.ts';
import { readProfiles } from '../brain/profiles.ts';
import { buildBatchTasks } from './build.ts';
import { planPriority } from './priority.ts';
import { type SubmitOptions, checkSubmission } from './submit.ts';
import { type DryRunReport, buildDryRunReport } from './dryRunReport.ts';

/** The same as a submission's: a dry run is asked exactly as submit is. */
export type DryRunOptions = SubmitOptions;

export type DryRunOutcome = { ok: true; report: DryRunReport; notes: string[] } | { ok: false; problems: string[] };

/** The rig's config, read only; a mount with none yet gets the defaults for one GPU, said in a note. */
async function rigConfig(paths: MountPaths, notes: string[]): Promise<{ ok: true; config: Config } | { ok: false; problems: string[] }> {
  if (!(await access(paths.config).then(() => true, () => false))) {
    notes.push(`${paths.config}: none yet; predicted with the default config for one GPU`);
    return { ok: true, config: DEFAULT_CONFIG };
  }
  try {
    return { ok: true, config: await loadConfig(paths.config) };
  } catch (err) {
    if (!(err instanceof UserInputError)) throw err;
    return { ok: false, problems: err.message.split('\n') };
  }
}

export async function dryRunPlan(opts: DryRunOptions): Promise<DryRunOutcome> {
  const cwd = opts.cwd ?? process.cwd();
  const paths = mountPaths(opts.shared);
  const problems: string[] = [];
  const notes: string[] = [];
  // The checks submit makes, in the same words (its own function).
  const check = await checkSubmission(opts, paths, cwd);
  if (check.src === null) return { ok: false, problems: check.problems };
  const { src, name, values } = check;
  problems.push(...check.problems);
  const cfg = await rigConfig(paths, notes);
  if (!cfg.ok) problems.push(...cfg.problems);
  if (problems.length || !check.plan || !cfg.ok) return { ok: false, problems };
  const plan = check.plan;

  // The batch as the brain would make it (a batch id that is used nowhere), with the VRAM estimates it has learned.
  const now = opts.now ?? Date.now();
  const batchId = newBatchId(now);
  const built = buildBatchTasks(plan, { batchId, batchPath: batchDir(paths, name, batchId), values, config: cfg.config, now, priority: opts.priority ?? planPriority(plan.frontMatter) });
  const learned = applyEstimates(await readEstimates(paths), built);
  if (learned.length) notes.push(`learned VRAM estimates the brain would apply: ${learned.join(', ')}`);
  const tasks = built.map((t) => Task.parse(t));
  const heartbeats = await readHeartbeats(paths, cfg.config.gpus.map((g) => g.id));
  const { profiles, problem } = await readProfiles(paths);
  if (problem) notes.push(`${problem}; predicted as if nothing were learned`);
  try {
    return { ok: true, report: buildDryRunReport({ tasks, config: cfg.config, heartbeats, profiles }), notes };
  } catch (err) {
    throw new Error(`the dry run of ${src} failed: ${errorMessage(err)}`, { cause: err });
  }
}
