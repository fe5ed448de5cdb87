// Foreach expansion: a template task and the items of its manifest → one child task per
// item, named <template>.<n>. The template's argv and prompt are in template encoding
// (see substitute.ts): decoding them with the item's fields is the only substitution left,
// and it happens once, so an item value is one literal argument whatever it holds.
import { dirname } from 'node:path';
import { isoTime } from '../core/clock.ts';
import { type MountRead, type RetryOptions, readMountFileInside, retryTransient } from '../core/mountRead.ts';
import { childName, childOfTemplate, type Task, type TaskInput } from '../core/task.ts';
import { PLAN_LIMITS } from './limits.ts';
import { checkpointDir } from '../core/checkpoint.ts';
import { CHECKPOINT_DIR, fillTemplate, itemField } from './substitute.ts';
import { taskPath } from './taskPaths.ts';
import { figure } from './textLimits.ts';

export interface Expansion {
  /** The children, in item order; empty whenever there is any problem (never a partial expansion). */
  tasks: TaskInput[];
  problems: string[];
}

/** At most this many item problems are listed; the rest are counted. */
const MAX_PROBLEMS = 20;

function preview(item: unknown): string {
  const s = JSON.stringify(item) ?? String(item);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** `from`: the index of items[0] in the whole manifest (a window of it is expanded). */
export function expandForeach(template: Task, items: unknown[], now: number, from = 0): Expansion {
  const problems: string[] = [];
  const tasks: TaskInput[] = [];
  const manifest = template.foreach ? `${template.foreach.path}${template.foreach.key ? `:${template.foreach.key}` : ''}` : 'its manifest';
  items.forEach((item, at) => {
    const i = at + from;
    const itemProblems: string[] = [];
    const child = childName(template.name, i);
    const fill = (text: string) => {
      const r = fillTemplate(text, (p) => (p === CHECKPOINT_DIR ? checkpointDir(template.batch_path, child) : itemField(item, p)));
      for (const name of r.missing) {
        const why = item === null || typeof item !== 'object' ? `is ${item === null ? 'null' : `a ${typeof item}`}, not an object` : `has no field '${name.slice(5)}' (or it is null)`;
        const msg = name === 'ITEM' ? `item ${i + 1} is null, so {ITEM} has no value` : `item ${i + 1} ${why}, needed by {${name}}`;
        if (!itemProblems.includes(msg)) itemProblems.push(msg);
      }
      if (r.text.includes('\0')) itemProblems.push(`item ${i + 1} holds a NUL character, which no program argument can hold`);
      return r.text;
    };
    const argv = template.argv ? template.argv.map(fill) : null;
    const prompt = template.prompt === null ? null : fill(template.prompt);
    const inputs = template.inputs === null ? null : template.inputs.map((p) => taskPath(template.cwd, fill(p)));
    const outputs = template.outputs === null ? null : template.outputs.map((p) => taskPath(template.cwd, fill(p)));
    if (itemProblems.length) {
      problems.push(...itemProblems.map((p) => `task '${template.name}', ${manifest}: ${p}; the item is ${preview(item)}`));
      return;
    }
    tasks.push({ ...childOfTemplate(template, i, isoTime(now)), argv, prompt, inputs, outputs });
  });
  if (problems.length) {
    const shown = problems.slice(0, MAX_PROBLEMS);
    if (problems.length > MAX_PROBLEMS) shown.push(`task '${template.name}': ... and ${problems.length - MAX_PROBLEMS} more problems with items`);
    return { tasks: [], problems: shown };
  }
  return { tasks, problems: [] };
}

export type ManifestRead = { ok: true; items: unknown[] } | { ok: false; error: string };

export interface ManifestReadOptions {
  /**
   * How a read that fails for a reason that passes on a shared mount is tried again: ESTALE
   * and EIO, and a manifest not there (yet: written on another host, not visible through this
   * client's cache). Default: a few reads over READ_GIVE_UP_MS, then the error says it gave up.
   */
  retry?: RetryOptions;
  /** One read of the manifest (tests inject failures). */
  read?: (path: string, folder: string, o: { maxBytes: number }) => Promise<MountRead>;
}

/**
 * The array at a dotted key of a JSON manifest ('' for a manifest that is itself the array).
 * The manifest is read only inside `folder` (the batch's folder; by default the manifest's
 * own): a symlink is followed to a regular file inside it and nowhere else, so a FIFO, a link
 * to /dev/zero or to a file elsewhere on the host is refused with a reason, never a hang; and
 * at most PLAN_LIMITS.manifestBytes are read and manifestItems items taken.
 */
export async function readManifestItems(file: string, key: string, folder = dirname(file), o: ManifestReadOptions = {}): Promise<ManifestRead> {
  const where = `${file}${key ? `:${key}` : ''}`;
  const readOnce = o.read ?? readMountFileInside;
  const read = await retryTransient(() => readOnce(file, folder, { maxBytes: PLAN_LIMITS.manifestBytes }), o.retry ?? { missingToo: true });
  if (!read.ok) {
    if (read.why === 'missing') {
      const looked = read.retried ? ` (looked ${read.retried.tries} times over ${(read.retried.forMs / 1000).toFixed(1)} s)` : '';
      return { ok: false, error: `foreach manifest ${file} does not exist${looked}: the task it depends on should have written it; check that task's command and output path` };
    }
    if (read.why === 'too_big') {
      return { ok: false, error: `foreach manifest ${read.detail} (${figure(PLAN_LIMITS.manifestBytes)} bytes, 16 MiB, is the most a manifest may be); split the items over several manifests and foreach tasks` };
    }
    return { ok: false, error: `foreach manifest cannot be read: ${read.detail}; it must be a regular file the task before wrote inside the batch folder` };
  }
  const text = read.text;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `foreach manifest ${file} is not valid JSON (${clip((err as Error).message, 200)}); expected e.g. {"videos": [{"id": "v1", "path": "..."}]}` };
  }
  const walked: string[] = [];
  for (const part of key ? key.split('.') : []) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { ok: false, error: `foreach manifest ${where}: '${walked.join('.') || '(top level)'}' is ${describe(value)}, not an object holding '${part}'` };
    }
    if (!Object.prototype.hasOwnProperty.call(value, part)) {
      const keys = Object.keys(value as object);
      return {
        ok: false,
        error: `foreach manifest ${where}: no key '${[...walked, part].join('.')}'; found keys: ${keys.length ? keys.slice(0, 20).map((k) => clip(k, 40)).join(', ') + (keys.length > 20 ? `, ... (${figure(keys.length)} in all)` : '') : '(none)'}`,
      };
    }
    value = (value as Record<string, unknown>)[part];
    walked.push(part);
  }
  if (!Array.isArray(value)) {
    return { ok: false, error: `foreach manifest ${where}: '${key || '(top level)'}' is ${describe(value)}, expected an array of items` };
  }
  if (value.length > PLAN_LIMITS.manifestItems) {
    return { ok: false, error: `foreach manifest ${where} has ${figure(value.length)} items, over the limit of ${figure(PLAN_LIMITS.manifestItems)} items per foreach (one task file each); split them over several manifests and foreach tasks` };
  }
  return { ok: true, items: value };
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
