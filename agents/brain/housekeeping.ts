// The brain's housekeeping run: reads what the plan needs from the mount (sizes, batch
// records, names, quarantine notes, how long files have been seen), asks
// housekeepingPlan.ts what to do, does it, and says each action in one HOUSEKEEPING line.
//
// Called from the brain's pass, never beside it: the brain is the one writer of the two
// merged logs, and the rotation runs between two merge rounds (LogMerger.betweenRounds).
// A log is rotated by rename, never truncated: a reader holding it open (tail -f, a report)
// goes on reading the old file to its end, `tail -F` follows the name to the new one, and the
// brain's next append (each opens the file anew, core/decisionLog.ts) creates it.
import { lstat, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isTempName } from '../core/atomic.ts';
import { batchOfTaskId, readBatchRecord } from '../core/batch.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { readControls } from '../core/controls.ts';
import { isGone } from '../core/errors.ts';
import { readEntries } from '../core/leftovers.ts';
import { readMountFile } from '../core/mountRead.ts';
import { ObservedAge } from '../core/observedAge.ts';
import { idOfEventFile, sentDir } from '../core/outbox.ts';
import { type MountPaths, isSafeName } from '../core/paths.ts';
import { statsVersion } from '../core/unreadable.ts';
import { resultCacheDir } from '../core/resultCache.ts';
import {
  type AgedSeen, type ArchiveSeen, type HousekeepingAction, type HousekeepingSeen, describeAction, nextRunAt, planHousekeeping,
} from './housekeepingPlan.ts';

export interface HousekeeperOptions {
  paths: MountPaths;
  config: Config;
  clock: Clock;
  /** Writes one HOUSEKEEPING decision (the brain's log). */
  note: (reason: string) => Promise<unknown>;
  /** The batches the brain runs now (its index): their archives are never removed. */
  activeBatches: () => ReadonlySet<string>;
  /** Runs the rotation with no merge of the spool in progress (LogMerger.betweenRounds). */
  betweenMerges: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** A quarantine note's name beside what it explains (core/quarantine.ts). */
const NOTE = '.why.txt';
/** A quarantine note is one ISO time, the source path and a reason: never large. */
const NOTE_MAX_BYTES = 64 * 1024;

async function sizeOf(file: string): Promise<number | null> {
  try {
    const st = await lstat(file);
    return st.isFile() ? st.size : null;
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
}

/** Pure: the time of an event file in outbox/ (its name starts with it: core/outbox.ts eventFileName); null for another name. */
export function eventTimeOfName(name: string): number | null {
  if (idOfEventFile(name) === null) return null;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2}\.\d{3})Z-/.exec(name);
  if (!m) return null;
  const t = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(t) ? null : t;
}

/** Pure: the time on a quarantine note's first line (`<ISO time> <source path>`); null when there is none. */
export function noteTime(text: string): number | null {
  const first = /^(\S+)/.exec(text)?.[1];
  const t = first ? Date.parse(first) : NaN;
  return Number.isNaN(t) ? null : t;
}

/** Rotates `file`: file.N-1 → file.N ... file → file.1, the oldest beyond `keep` removed. Each step a rename. */
export async function rotateLog(file: string, keep: number): Promise<void> {
  await unlink(`${file}.${keep}`).catch((err) => {
    if (!isGone(err)) throw err;
  });
  for (let i = keep - 1; i >= 1; i--) {
    await rename(`${file}.${i}`, `${file}.${i + 1}`).catch((err) => {
      if (!isGone(err)) throw err;
    });
  }
  await rename(file, `${file}.1`);
}

export class Housekeeper {
  private readonly o: HousekeeperOptions;
  private readonly startedAt: number;
  private lastRun: number | null = null;
  /** How long files without a time of their own have been seen unchanged (brain clock). */
  private readonly seenAges: ObservedAge;

  constructor(o: HousekeeperOptions) {
    this.o = o;
    this.startedAt = o.clock.now();
    this.seenAges = new ObservedAge(() => o.clock.now());
  }

  /** A run when one is due (housekeeping.first_after_s after start, then every interval_s); the actions done. */
  async maybeRun(): Promise<HousekeepingAction[]> {
    const cfg = this.o.config.housekeeping;
    const now = this.o.clock.now();
    if (!cfg.enabled || now < nextRunAt(this.lastRun, this.startedAt, cfg)) return [];
    this.lastRun = now;
    return this.runOnce();
  }

  /** One run now, due or not. */
  async runOnce(): Promise<HousekeepingAction[]> {
    const seen = await this.look();
    const actions = planHousekeeping(seen, this.o.config.housekeeping);
    for (const a of actions) {
      const done = await this.apply(a);
      if (a.kind === 'rotate' || done > 0) await this.o.note(describeAction(a, done));
    }
    return actions;
  }

  private async look(): Promise<HousekeepingSeen> {
    const { paths } = this.o;
    const now = this.o.clock.now();
    return {
      now,
      decisionLogBytes: await sizeOf(paths.decisionLog),
      trainingSamplesBytes: await sizeOf(paths.trainingSamples),
      archives: await this.lookArchives(),
      lateResults: await this.lookSeen(join(paths.tasks, 'late_results')),
      quarantine: await this.lookQuarantine(),
      sent: (await readEntries(sentDir(paths)))
        .filter((e) => e.isFile())
        .flatMap((e) => {
          const time = eventTimeOfName(e.name);
          return time === null ? [] : [{ name: e.name, time, seenMs: 0 }];
        }),
    };
  }

  private async lookArchives(): Promise<ArchiveSeen[]> {
    const { paths } = this.o;
    const active = this.o.activeBatches();
    const retry = await this.retryAsked();
    const out: ArchiveSeen[] = [];
    for (const e of await readEntries(join(paths.tasks, 'archive'))) {
      if (!e.isDirectory() || !isSafeName(e.name)) continue;
      const rec = await readBatchRecord(paths, e.name);
      out.push({ batch: e.name, finishedAt: rec?.finished_at ?? null, active: active.has(e.name), retryAsked: retry.has(e.name) });
    }
    return out;
  }

  /** The batches control/retry/ names, itself or by one of its tasks: each may be reopened from its archive. */
  private async retryAsked(): Promise<Set<string>> {
    const targets = (await readControls(this.o.paths, ['retry'])).retry;
    return new Set([...targets].map((t) => batchOfTaskId(t)));
  }

  /** Files of a folder with no time of their own: aged by how long the brain has seen them unchanged. */
  private async lookSeen(dir: string): Promise<AgedSeen[]> {
    const out: AgedSeen[] = [];
    for (const e of await readEntries(dir)) {
      if (isTempName(e.name)) continue; // leftovers.ts's, not ours
      const path = join(dir, e.name);
      const st = await lstat(path).catch(() => null);
      if (!st) continue;
      out.push({ name: e.name, time: null, seenMs: this.seenAges.observe(path, statsVersion(st)) });
    }
    this.seenAges.keepOnly(join(dir, '/'), new Set(out.map((i) => join(dir, i.name))));
    return out;
  }

  /** quarantine/<where>/<stamp>-<name>, aged by the time in its <name>.why.txt note, else as seen. */
  private async lookQuarantine(): Promise<AgedSeen[]> {
    const out: AgedSeen[] = [];
    for (const where of await readEntries(this.o.paths.quarantine)) {
      if (!where.isDirectory()) continue;
      const dir = join(this.o.paths.quarantine, where.name);
      const items = await this.lookSeen(dir);
      const names = new Set(items.map((i) => i.name));
      for (const item of items) {
        // A note whose thing is there goes with it; a note alone (its move failed) is an item of its own.
        if (item.name.endsWith(NOTE) && names.has(item.name.slice(0, -NOTE.length))) continue;
        const noteName = item.name.endsWith(NOTE) ? item.name : `${item.name}${NOTE}`;
        let time: number | null = null;
        if (names.has(noteName)) {
          const r = await readMountFile(join(dir, noteName), { maxBytes: NOTE_MAX_BYTES, followSymlinks: false });
          if (r.ok) time = noteTime(r.text);
        }
        out.push({ name: `${where.name}/${item.name}`, time, seenMs: item.seenMs });
      }
    }
    return out;
  }

  /** Does one action; how many items went (a rotation: 1). */
  private async apply(a: HousekeepingAction): Promise<number> {
    const { paths } = this.o;
    if (a.kind === 'rotate') {
      const file = a.log === 'decisions' ? paths.decisionLog : paths.trainingSamples;
      await this.o.betweenMerges(() => rotateLog(file, a.keep));
      return 1;
    }
    let done = 0;
    for (const name of a.names) {
      const targets =
        a.what === 'archive' ? [join(paths.tasks, 'archive', name), join(resultCacheDir(paths), `${name}.json`)]
        : a.what === 'late_results' ? [join(paths.tasks, 'late_results', name)]
        : a.what === 'quarantine' ? [join(paths.quarantine, name), join(paths.quarantine, `${name}${NOTE}`)]
        : [join(sentDir(paths), name)];
      // A retry asked since the look keeps its archive: checked again right before removing it.
      if (a.what === 'archive' && (this.o.activeBatches().has(name) || (await this.retryAsked()).has(name))) continue;
      for (const t of targets) await rm(t, { recursive: true, force: true });
      if (a.what === 'late_results' || a.what === 'quarantine') for (const t of targets) this.seenAges.forget(t);
      done++;
    }
    return done;
  }
}
