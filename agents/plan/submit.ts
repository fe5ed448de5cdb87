// The submit command's logic: find the plan, check everything (config JSON, plan, name on
// the mount) before writing anything, then place the plan on the mount and write the
// submission into brain/inbox. A refused submission leaves no file anywhere.
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { newBatchId, writeSubmission } from '../core/inbox.ts';
import { ensureMount, isSafeName, mountPaths, type MountPaths } from '../core/paths.ts';
import { checkPlanBounded } from './boundedCheck.ts';
import { PLAN_FILE } from './load.ts';
import { type Placement, type PlanFile, listPlanFiles, placePlan, sameContent, samePath } from './placePlan.ts';
import type { Plan } from './types.ts';
import { inputValuesFromConfig } from './validate.ts';

export type { Placement };

export interface SubmitOptions {
  /** A plan folder (absolute or relative to cwd), a path to its plan.md, or a plan name on the mount. */
  plan: string;
  /** The --config JSON text, if given. */
  config?: string | undefined;
  /** The shared mount's root. */
  shared: string;
  cwd?: string;
  now?: number;
  /** 1 (highest) to 5 (lowest); overrides the plan's front matter. Checked by the caller. */
  priority?: number;
}


export type SubmitOutcome =
  | {
      ok: true;
      batchId: string;
      planName: string;
      /** The plan folder on the mount. */
      planDir: string;
      inboxFile: string;
      /** What happened to the plan folder: already the mount's, copied, files updated, or identical. */
      placement: Placement;
      updatedFiles: string[];
    }
  | { ok: false; problems: string[] };

export type ConfigValues = Record<string, string | number | boolean>;

const CONFIG_EXAMPLE = `'{"COUNT": 5, "NAME": "world"}'`;

function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** The --config JSON: an object of strings, numbers and booleans. Problems name --config. */
export function parseConfigJson(text: string | undefined): { ok: true; config: ConfigValues } | { ok: false; problems: string[] } {
  if (text === undefined) return { ok: true, config: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [`--config: not valid JSON (${(err as Error).message}); expected an object of input values, e.g. --config ${CONFIG_EXAMPLE}`] };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    const found = describeJson(raw);
    return { ok: false, problems: [`--config: expected a JSON object of input values, e.g. --config ${CONFIG_EXAMPLE}; found ${found}`] };
  }
  const problems: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      problems.push(`--config: value of '${k}' is ${describeJson(v)}; values must be strings, numbers or booleans (pass structured data as a JSON string)`);
    }
  }
  return problems.length ? { ok: false, problems } : { ok: true, config: raw as ConfigValues };
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function listPlanNames(paths: MountPaths): Promise<string[]> {
  try {
    const entries = await readdir(paths.plans, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** PLAN → a plan folder: a bare name is looked up on the mount first, then as a folder here. */
export async function resolvePlanDir(arg: string, paths: MountPaths, cwd: string): Promise<{ ok: true; dir: string } | { ok: false; problem: string }> {
  const local = resolve(cwd, arg);
  const bare = isSafeName(arg) && !arg.includes('/');
  if (bare && (await isDir(join(paths.plans, arg)))) return { ok: true, dir: join(paths.plans, arg) };
  if (await isDir(local)) return { ok: true, dir: local };
  if (basename(local) === PLAN_FILE && (await isDir(dirname(local)))) return { ok: true, dir: dirname(local) };
  const names = await listPlanNames(paths);
  const onMount = names.length ? `plans on the mount: ${names.join(', ')}` : `no plans on the mount yet`;
  return {
    ok: false,
    problem: `${local}: no such plan folder${bare ? `, and no plan named '${arg}' under ${paths.plans}` : ''}; PLAN is a plan folder (holding plan.md) or the name of one under <shared>/plans/ (${onMount})`,
  };
}

/** What submit checks before it writes anything, and what it found: the same for a dry run. */
export interface SubmissionCheck {
  problems: string[];
  /** The plan folder as found, and its name on the mount. */
  src: string;
  name: string;
  dest: string;
  values: Record<string, string>;
  plan: Plan | null;
  /** The plan folder is the one on the mount already. */
  inPlace: boolean;
  /** Its files to copy (none when in place). */
  files: PlanFile[];
}

/** Every check of a submission, reported all at once; null with the problem when no plan folder is found. */
export async function checkSubmission(opts: Pick<SubmitOptions, 'plan' | 'config'>, paths: MountPaths, cwd: string): Promise<SubmissionCheck | { problems: string[]; src: null }> {
  const problems: string[] = [];
  const config = parseConfigJson(opts.config);
  if (!config.ok) problems.push(...config.problems);
  const found = await resolvePlanDir(opts.plan, paths, cwd);
  if (!found.ok) return { problems: [...problems, found.problem], src: null };
  const src = found.dir;
  const name = basename(src);
  if (!isSafeName(name)) {
    problems.push(`${src}: the folder name '${name}' cannot be a plan name on the mount; rename the folder using letters, digits, '.', '_' and '-' (starting with a letter or digit)`);
  }
  const values = config.ok ? inputValuesFromConfig(config.config) : {};
  // In a worker thread within the parse budget: no plan.md can hang or exhaust submit.
  const checked = await checkPlanBounded(src, values);
  problems.push(...checked.problems);
  const dest = join(paths.plans, name);
  const inPlace = await samePath(src, dest);
  const listed = inPlace ? { files: [], problems: [] } : await listPlanFiles(src);
  problems.push(...listed.problems);
  if (isSafeName(name) && !inPlace && (await isDir(dest))) {
    if (!(await sameContent(join(src, PLAN_FILE), join(dest, PLAN_FILE)))) {
      problems.push(
        `${join(dest, PLAN_FILE)}:1: a different plan named '${name}' is already on the mount (its plan.md differs from ${join(src, PLAN_FILE)}); rename your plan folder, or remove ${dest} if it is no longer used`,
      );
    }
  }
  return { problems, src, name, dest, values, plan: checked.plan, inPlace, files: listed.files };
}

export async function submitPlan(opts: SubmitOptions): Promise<SubmitOutcome> {
  const cwd = opts.cwd ?? process.cwd();
  const paths = mountPaths(opts.shared);
  // Everything is checked first; nothing is written unless all of it is right.
  const check = await checkSubmission(opts, paths, cwd);
  if (check.src === null || check.problems.length || !check.plan) return { ok: false, problems: check.problems };
  const { src, name, dest, values } = check;

  await ensureMount(paths);
  const { placement, updated } = await placePlan(check.files, src, dest, paths.plans);
  const batchId = newBatchId(opts.now ?? Date.now());
  const inboxFile = await writeSubmission(paths, {
    plan: name,
    config: values,
    batch_id: batchId,
    submitted_at: new Date(opts.now ?? Date.now()).toISOString(),
    ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
  });
  return { ok: true, batchId, planName: name, planDir: dest, inboxFile, placement, updatedFiles: updated };
}

/** For messages: a path relative to cwd when that is shorter. */
export function shortPath(p: string, cwd = process.cwd()): string {
  const r = relative(cwd, p);
  return r && !r.startsWith('..') && r.length < p.length ? r : p;
}
