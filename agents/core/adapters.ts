// Adapters on the mount: the versions, and which one is current per base model.
//
//   adapters/<base, %-encoded>/<adapter>/<version>/meta.json       written once, by whoever trains it
//   adapters/<base, %-encoded>/<adapter>/<version>/<meta.file>     the adapter (adapter.gguf, adapter.safetensors)
//   adapters/current.json   {"qwen2.5:7b": {"adapter", "version", "promoted_at", "score", "previous": [...]}}
//
// current.json is changed only through updateCurrent: under a lock (adapters/.current.lock,
// an atomic mkdir that works across hosts), read, changed, written whole (temporary name,
// rename), so a promotion from `forge adapters` and one from a plan's promote_adapter task
// never lose each other's change. Readers need no lock: they see the old file or the new.
// People may write it (forge adapters promote/rollback) as well as plans, because rolling back
// a bad adapter must not wait for a brain or a queue. Every read is checked by its schema; a
// bad file is reported and changes nothing (agents keep the version they hold).
import { mkdir, readdir, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { writeJsonAtomic } from './atomic.ts';
import { ADAPTER_NAME, type AdapterVersion, baseFolderName, normalizeBase, parseModelRef } from './adapterRef.ts';
import { isoTime } from './clock.ts';
import { errorCode } from './errors.ts';
import { type JsonFileRead, readJsonFile } from './mountJson.ts';
import type { MountPaths } from './paths.ts';
import * as z from './zod.ts';

/** How many earlier versions each base remembers for rollback. */
export const MAX_PREVIOUS = 20;
/** Bases current.json may name; versions listed per adapter. Bounds for readers of an untrusted file and folder. */
export const MAX_BASES = 200;
export const MAX_LISTED = 2000;

const Name = z.string().check(z.regex(ADAPTER_NAME, { message: "letters, digits, '_', '.' or '-', at most 64, starting with a letter or digit" }));

export const PastVersion = z.strictObject({
  adapter: Name,
  version: Name,
  promoted_at: z.string(),
});

export const CurrentEntry = z.strictObject({
  adapter: Name,
  version: Name,
  /** When it became current (ISO time). */
  promoted_at: z.string(),
  /** The evaluation score that promoted it, if one did. */
  score: z._default(z.nullable(z.number()), null),
  /** Who made it current: a person (forge adapters), or a batch's task id. */
  by: z._default(z.nullable(z.string()), null),
  /** The versions current before, newest first: what rollback returns to. */
  previous: z._default(z.array(PastVersion).check(z.maxLength(MAX_PREVIOUS)), []),
});
export type CurrentEntry = z.infer<typeof CurrentEntry>;

/** current.json: per base model (as written in config and plans), its current adapter version. */
export const CurrentAdapters = z.record(
  z.string().check(z.minLength(1), z.refine((b) => !b.includes('#'), { message: "a base model name (no '#')" })),
  CurrentEntry,
).check(z.refine((r) => Object.keys(r).length <= MAX_BASES, { message: `at most ${MAX_BASES} base models` }));
export type CurrentAdapters = z.infer<typeof CurrentAdapters>;

/** meta.json of one version. */
export const AdapterMeta = z.object({
  base: z.string().check(z.minLength(1)),
  adapter: Name,
  version: Name,
  /** The adapter file in the version's folder: a plain file name. */
  file: z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, { message: 'a plain file name in the version folder, e.g. adapter.gguf' })),
  created_at: z.string(),
  /** The evaluation score it was trained to, if known. */
  score: z._default(z.nullable(z.number()), null),
  /** The batch that trained it, if any. */
  batch: z._default(z.nullable(z.string()), null),
});
export type AdapterMeta = z.infer<typeof AdapterMeta>;

export function adaptersDir(paths: Pick<MountPaths, 'root'>): string {
  return join(paths.root, 'adapters');
}

export function currentFile(paths: Pick<MountPaths, 'root'>): string {
  return join(adaptersDir(paths), 'current.json');
}

export function versionDir(paths: Pick<MountPaths, 'root'>, base: string, v: AdapterVersion): string {
  return join(adaptersDir(paths), baseFolderName(base), v.adapter, v.version);
}

/** current.json as it is: missing is an empty one; a bad file is a problem naming the file. */
export async function readCurrent(paths: Pick<MountPaths, 'root'>): Promise<{ ok: true; value: CurrentAdapters } | { ok: false; problem: string }> {
  const file = currentFile(paths);
  const r: JsonFileRead<CurrentAdapters> = await readJsonFile(file, CurrentAdapters, 'the current adapters (adapters/current.json)', { retry: {} });
  if (r.ok) return r;
  if (r.missing) return { ok: true, value: {} };
  return { ok: false, problem: `${file}: ${r.problem}` };
}

/** The entry of a base, whatever spelling of it current.json uses (`m` is `m:latest`). */
export function entryOf(current: CurrentAdapters, base: string): { key: string; entry: CurrentEntry } | null {
  const want = normalizeBase(base);
  for (const [key, entry] of Object.entries(current)) if (normalizeBase(key) === want) return { key, entry };
  return null;
}

/** What a model name asks the runtime for: its base, and the adapter version (pinned in the name, or current), or none. */
export interface Resolution {
  base: string;
  adapter: AdapterVersion | null;
  via: 'pinned' | 'current' | 'none';
}

/** Pure: a model name resolved against current.json. A name that does not parse resolves to itself, with no adapter. */
export function resolveModel(model: string, current: CurrentAdapters): Resolution {
  const parsed = parseModelRef(model);
  if (!parsed.ok) return { base: model, adapter: null, via: 'none' };
  const { base, pinned } = parsed.ref;
  if (pinned) return { base, adapter: pinned, via: 'pinned' };
  const e = entryOf(current, base);
  return e ? { base, adapter: { adapter: e.entry.adapter, version: e.entry.version }, via: 'current' } : { base, adapter: null, via: 'none' };
}

export type Change = { ok: true; next: CurrentAdapters; changed: boolean; message: string } | { ok: false; problem: string };

/** Pure: `v` made current for `base`; the one it replaces goes first into previous. Promoting the current one again changes nothing. */
export function promoteIn(current: CurrentAdapters, base: string, v: AdapterVersion, o: { now: number; score?: number | null; by?: string | null }): Change {
  const found = entryOf(current, base);
  const key = found?.key ?? base;
  const was = found?.entry;
  if (was && was.adapter === v.adapter && was.version === v.version) {
    return { ok: true, next: current, changed: false, message: `${base}: ${v.adapter} ${v.version} is already current` };
  }
  const previous = was ? [{ adapter: was.adapter, version: was.version, promoted_at: was.promoted_at }, ...was.previous].slice(0, MAX_PREVIOUS) : [];
  const entry: CurrentEntry = { adapter: v.adapter, version: v.version, promoted_at: isoTime(o.now), score: o.score ?? null, by: o.by ?? null, previous };
  const from = was ? `${was.adapter} ${was.version}` : 'no adapter';
  return { ok: true, next: { ...current, [key]: entry }, changed: true, message: `${base}: ${v.adapter} ${v.version} is current (was ${from})` };
}

/**
 * Pure: `base` back to the version current before this one; with none before, back to no
 * adapter (the entry goes). With `expect`, only when that version is the current one: a task
 * retried after its rollback was written does not roll back twice.
 */
export function rollbackIn(current: CurrentAdapters, base: string, o: { now: number; expect?: AdapterVersion | null; by?: string | null }): Change {
  const found = entryOf(current, base);
  if (!found) return { ok: false, problem: `${base}: no adapter is current, nothing to roll back (forge adapters lists what there is)` };
  const { key, entry } = found;
  if (o.expect && (o.expect.adapter !== entry.adapter || o.expect.version !== entry.version)) {
    return { ok: true, next: current, changed: false, message: `${base}: ${entry.adapter} ${entry.version} is current, not ${o.expect.adapter} ${o.expect.version}: nothing rolled back` };
  }
  const [back, ...older] = entry.previous;
  const next = { ...current };
  if (!back) {
    delete next[key];
    return { ok: true, next, changed: true, message: `${base}: ${entry.adapter} ${entry.version} rolled back; no adapter now (there was none before it)` };
  }
  next[key] = { adapter: back.adapter, version: back.version, promoted_at: isoTime(o.now), score: null, by: o.by ?? null, previous: older };
  return { ok: true, next, changed: true, message: `${base}: ${entry.adapter} ${entry.version} rolled back to ${back.adapter} ${back.version}` };
}

/** A version's folder checked: its meta.json read, its base the one asked for, its adapter file a regular file. */
export async function readVersion(paths: Pick<MountPaths, 'root'>, base: string, v: AdapterVersion): Promise<{ ok: true; meta: AdapterMeta; file: string; size: number } | { ok: false; problem: string }> {
  const dir = versionDir(paths, base, v);
  const metaFile = join(dir, 'meta.json');
  const r = await readJsonFile(metaFile, AdapterMeta, 'an adapter version record (meta.json)', { retry: {} });
  if (!r.ok) {
    return { ok: false, problem: r.missing ? `${base}: no version ${v.version} of adapter ${v.adapter} (${metaFile} is missing; forge adapters lists the versions)` : `${metaFile}: ${r.problem}` };
  }
  const meta = r.value;
  if (normalizeBase(meta.base) !== normalizeBase(base) || meta.adapter !== v.adapter || meta.version !== v.version) {
    return { ok: false, problem: `${metaFile}: says base ${meta.base}, adapter ${meta.adapter}, version ${meta.version}; its folder says ${base}, ${v.adapter}, ${v.version}` };
  }
  const file = join(dir, meta.file);
  const st = await lstat(file).catch((err: unknown) => errorCode(err) ?? 'unreadable');
  if (typeof st === 'string') return { ok: false, problem: `${file}: the adapter file meta.json names is ${st === 'ENOENT' ? 'missing' : `unreadable (${st})`}` };
  if (!st.isFile()) return { ok: false, problem: `${file}: the adapter file must be a regular file` };
  return { ok: true, meta, file, size: st.size };
}

/** One version found under adapters/, or a folder whose meta.json is not readable. */
export interface ListedVersion {
  base: string;
  adapter: string;
  version: string;
  created_at: string | null;
  score: number | null;
  batch: string | null;
  /** Why it cannot be used, or null. */
  problem: string | null;
}

async function dirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
}

/** A folder name back to the base it encodes (as written, when it is not %-encoding). */
function decodedBase(folder: string): string {
  try {
    return decodeURIComponent(folder);
  } catch {
    return folder;
  }
}

/** Every version folder under adapters/, at most MAX_LISTED. The base is meta.json's (the folder name is only its encoding). */
export async function listVersions(paths: Pick<MountPaths, 'root'>): Promise<ListedVersion[]> {
  const out: ListedVersion[] = [];
  const root = adaptersDir(paths);
  for (const b of await dirs(root)) {
    for (const a of await dirs(join(root, b))) {
      for (const v of await dirs(join(root, b, a))) {
        if (out.length >= MAX_LISTED) return out;
        const metaFile = join(root, b, a, v, 'meta.json');
        const r = await readJsonFile(metaFile, AdapterMeta, 'an adapter version record (meta.json)');
        if (r.ok && baseFolderName(r.value.base) === b && r.value.adapter === a && r.value.version === v) {
          const checked = await readVersion(paths, r.value.base, { adapter: a, version: v });
          out.push({ base: r.value.base, adapter: a, version: v, created_at: r.value.created_at, score: r.value.score, batch: r.value.batch, problem: checked.ok ? null : checked.problem });
        } else {
          const problem = r.ok ? `${metaFile}: does not match its folder (base ${r.value.base}, adapter ${r.value.adapter}, version ${r.value.version})` : `${metaFile}: ${r.problem}`;
          out.push({ base: decodedBase(b), adapter: a, version: v, created_at: null, score: null, batch: null, problem });
        }
      }
    }
  }
  return out;
}

/**
 * Changes current.json under its lock: reads it, applies `change`, writes it whole when it
 * changed. A current.json that is bad is not overwritten: the problem is returned, to fix by hand.
 */
export async function updateCurrent(paths: Pick<MountPaths, 'root'>, change: (current: CurrentAdapters) => Change | Promise<Change>): Promise<Change> {
  const dir = adaptersDir(paths);
  await mkdir(dir, { recursive: true });
  const lockPath = join(dir, '.current.lock');
  // Held for a read and a write (milliseconds); stale after 30 s of no refresh (a holder that
  // died). Staleness compares the lock's mtime with this host's clock: hosts whose clocks
  // differ by more than that could both write, so keep the rig's clocks in step (NTP).
  const release = await lockfile.lock(lockPath, {
    lockfilePath: lockPath, realpath: false, stale: 30_000, update: 5_000,
    retries: { retries: 40, minTimeout: 50, maxTimeout: 500 },
    onCompromised: () => {},
  });
  try {
    const read = await readCurrent(paths);
    if (!read.ok) return { ok: false, problem: `${read.problem}; fix or remove it first (nothing was changed)` };
    const result = await change(read.value);
    if (result.ok && result.changed) await writeJsonAtomic(currentFile(paths), result.next);
    return result;
  } finally {
    await release().catch(() => {});
  }
}

/** Promotes a version after checking its folder: the one way a promotion happens (forge adapters, promote_adapter tasks). */
export async function promoteVersion(paths: Pick<MountPaths, 'root'>, base: string, v: AdapterVersion, o: { now: () => number; by: string | null }): Promise<Change> {
  const parsed = parseModelRef(base);
  if (!parsed.ok || parsed.ref.pinned) return { ok: false, problem: `base model '${base}': expected a model name without an adapter, e.g. qwen2.5:7b` };
  for (const [what, name] of [['adapter', v.adapter], ['version', v.version]] as const) {
    if (!ADAPTER_NAME.test(name)) return { ok: false, problem: `${what} '${name}': letters, digits, '_', '.' or '-', at most 64, starting with a letter or digit` };
  }
  const checked = await readVersion(paths, base, v);
  if (!checked.ok) return checked;
  return updateCurrent(paths, (current) => promoteIn(current, base, v, { now: o.now(), score: checked.meta.score, by: o.by }));
}

/** Rolls a base back (see rollbackIn). */
export function rollbackBase(paths: Pick<MountPaths, 'root'>, base: string, o: { now: () => number; by: string | null; expect?: AdapterVersion | null }): Promise<Change> {
  return updateCurrent(paths, (current) => rollbackIn(current, base, { now: o.now(), expect: o.expect ?? null, by: o.by }));
}
