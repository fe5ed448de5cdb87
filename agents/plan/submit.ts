// The submit command's logic: find the plan, check everything (config JSON, plan, name on
// the mount) before writing anything, then place the plan on the mount and write the
// submission into brain/inbox. A refused submission leaves no file anywhere.
import { copyFile, mkdir, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { newBatchId, writeSubmission } from '../core/inbox.ts';
import { ensureMount, isSafeName, mountPaths, type MountPaths } from '../core/paths.ts';
import { PLAN_FILE, checkPlan } from './load.ts';
import { inputValuesFromConfig } from './validate.ts';

export interface SubmitOptions {
  /** A plan folder (absolute or relative to cwd), a path to its plan.md, or a plan name on the mount. */
  plan: string;
  /** The --config JSON text, if given. */
  config?: string | undefined;
  /** The shared mount's root. */
  shared: string;
  cwd?: string;
  now?: number;
}

export type Placement = 'in-place' | 'copied' | 'updated' | 'unchanged';

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

/** Files of a plan folder that travel to the mount: not batches/ (outputs), node_modules or dotfiles. */
export async function listPlanFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.') || e.name === 'node_modules' || (rel === '' && e.name === 'batches')) continue;
      const relPath = rel ? join(rel, e.name) : e.name;
      if (e.isDirectory()) await walk(relPath);
      else if (e.isFile()) out.push(relPath);
      else if (e.isSymbolicLink()) {
        // A link to a file travels as the file; a link to a folder is left out (no loops).
        const target = await stat(join(dir, relPath)).catch(() => null);
        if (target?.isFile()) out.push(relPath);
      }
    }
  };
  await walk('');
  return out;
}

async function sameContent(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([readFile(a), readFile(b)]);
    return x.equals(y);
  } catch {
    return false;
  }
}

async function samePath(a: string, b: string): Promise<boolean> {
  try {
    return (await realpath(a)) === (await realpath(b));
  } catch {
    return false;
  }
}

function tempName(folder: string, name: string): string {
  return join(folder, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Copies one file next to its target, then renames it in: a reader sees the old file or the new one. */
async function copyFileAtomic(src: string, dest: string): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = tempName(dirname(dest), basename(dest));
  try {
    await copyFile(src, tmp); // keeps the mode, so executable scripts stay executable
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Puts the plan folder at dest. A new plan is copied into a temporary folder and renamed in
 * whole, so the brain never sees half a plan. The same plan (same plan.md) gets its changed
 * files updated one by one; a different plan of the same name is refused before this runs.
 */
async function placePlan(src: string, dest: string, plansDir: string): Promise<{ placement: Placement; updated: string[] }> {
  if (await samePath(src, dest)) return { placement: 'in-place', updated: [] };
  const files = await listPlanFiles(src);
  if (!(await isDir(dest))) {
    const tmp = tempName(plansDir, basename(dest));
    try {
      for (const f of files) {
        await mkdir(dirname(join(tmp, f)), { recursive: true });
        await copyFile(join(src, f), join(tmp, f));
      }
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    return { placement: 'copied', updated: files };
  }
  const updated: string[] = [];
  for (const f of files) {
    if (await sameContent(join(src, f), join(dest, f))) continue;
    await copyFileAtomic(join(src, f), join(dest, f));
    updated.push(f);
  }
  return { placement: updated.length ? 'updated' : 'unchanged', updated };
}

export async function submitPlan(opts: SubmitOptions): Promise<SubmitOutcome> {
  const cwd = opts.cwd ?? process.cwd();
  const paths = mountPaths(opts.shared);
  const problems: string[] = [];

  // Everything is checked first; nothing is written unless all of it is right.
  const config = parseConfigJson(opts.config);
  if (!config.ok) problems.push(...config.problems);
  const found = await resolvePlanDir(opts.plan, paths, cwd);
  if (!found.ok) return { ok: false, problems: [...problems, found.problem] };
  const src = found.dir;
  const name = basename(src);
  if (!isSafeName(name)) {
    problems.push(`${src}: the folder name '${name}' cannot be a plan name on the mount; rename the folder using letters, digits, '.', '_' and '-' (starting with a letter or digit)`);
  }
  const values = config.ok ? inputValuesFromConfig(config.config) : {};
  const checked = await checkPlan(src, values);
  problems.push(...checked.problems);
  const dest = join(paths.plans, name);
  if (isSafeName(name) && !(await samePath(src, dest)) && (await isDir(dest))) {
    if (!(await sameContent(join(src, PLAN_FILE), join(dest, PLAN_FILE)))) {
      problems.push(
        `${join(dest, PLAN_FILE)}:1: a different plan named '${name}' is already on the mount (its plan.md differs from ${join(src, PLAN_FILE)}); rename your plan folder, or remove ${dest} if it is no longer used`,
      );
    }
  }
  if (problems.length || !checked.plan) return { ok: false, problems };

  await ensureMount(paths);
  const { placement, updated } = await placePlan(src, dest, paths.plans);
  const batchId = newBatchId(opts.now ?? Date.now());
  const inboxFile = await writeSubmission(paths, {
    plan: name,
    config: values,
    batch_id: batchId,
    submitted_at: new Date(opts.now ?? Date.now()).toISOString(),
  });
  return { ok: true, batchId, planName: name, planDir: dest, inboxFile, placement, updatedFiles: updated };
}

/** For messages: a path relative to cwd when that is shorter. */
export function shortPath(p: string, cwd = process.cwd()): string {
  const r = relative(cwd, p);
  return r && !r.startsWith('..') && r.length < p.length ? r : p;
}
