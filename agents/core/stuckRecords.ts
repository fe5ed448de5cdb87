// brain/escalations/<task id>.json: how far the brain went with a stuck task (abort, kill,
// manual), so a restarted brain does not start over. brain/interventions/<task id>.json: a
// stuck task the brain could not end, shown by status and watch until a person acts.
// Written by the brain only; read by the brain, status and doctor, each of which must
// survive anything a person or a broken process leaves in these folders.
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import * as z from './zod.ts';
import { isTempName } from './atomic.ts';
import { type JsonFileRead, readJsonFile } from './mountJson.ts';
import type { MountPaths } from './paths.ts';
import { entryKind } from './taskFile.ts';

export const EscalationRecord = z.object({
  task_id: z.string(),
  attempt: z.number().check(z.int()),
  agent: z.string(),
  /** Brain clock (ms) of each step; null until taken. */
  abort_at: z.nullable(z.number()),
  kill_at: z.nullable(z.number()),
  manual_at: z.nullable(z.number()),
});
export type EscalationRecord = z.infer<typeof EscalationRecord>;

export const Intervention = z.object({
  task_id: z.string(),
  agent: z.string(),
  since: z.string(),
  reason: z.string(),
});
export type Intervention = z.infer<typeof Intervention>;

export function escalationsDir(paths: MountPaths): string {
  return join(paths.brain, 'escalations');
}

export function interventionsDir(paths: MountPaths): string {
  return join(paths.brain, 'interventions');
}

export interface BadRecordFile {
  /** Relative to the mount, e.g. brain/escalations/b1__a.json. */
  rel: string;
  name: string;
  problem: string;
}

/**
 * Every *.json record of one folder that reads and checks, and every one that does not, with
 * why. Entries that are not regular files are judged from the listing and never opened.
 */
export async function readRecordFolder<T>(paths: MountPaths, dir: string, schema: z.core.$ZodType<T>, what: string): Promise<{ records: T[]; bad: BadRecordFile[] }> {
  const out: { records: T[]; bad: BadRecordFile[] } = { records: [], bad: [] };
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out; // none yet (or not listable this time: the next look tries again)
  }
  for (const e of entries) {
    if (isTempName(e.name) || !e.name.endsWith('.json')) continue;
    const file = join(dir, e.name);
    const rel = relative(paths.root, file);
    const kind = entryKind(e);
    if (kind !== null) {
      out.bad.push({ rel, name: e.name, problem: `is ${kind}, not a regular file` });
      continue;
    }
    const r: JsonFileRead<T> = await readJsonFile(file, schema, what);
    if (r.ok) out.records.push(r.value);
    else if (!r.missing) out.bad.push({ rel, name: e.name, problem: r.problem });
  }
  return out;
}

export function readEscalations(paths: MountPaths): Promise<{ records: EscalationRecord[]; bad: BadRecordFile[] }> {
  return readRecordFolder(paths, escalationsDir(paths), EscalationRecord, 'an escalation record ({"task_id": "...", "attempt": N, "agent": "...", ...})');
}

export function readInterventions(paths: MountPaths): Promise<{ records: Intervention[]; bad: BadRecordFile[] }> {
  return readRecordFolder(paths, interventionsDir(paths), Intervention, 'an intervention record ({"task_id", "agent", "since", "reason"})');
}
