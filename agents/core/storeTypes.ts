// The shapes the file store (core/store.ts) takes and gives: what a read, a replace and a
// claim come to, and the store's options.
import type { TaskFolder } from './paths.ts';
import type { Task } from './task.ts';
import type { Doorbell } from './doorbell.ts';

/**
 * missing: no such file (moved on). quarantined: it was not a task, and is in quarantine/ now.
 * not_ready: it cannot be read as a task now (torn, unreadable) but has not stayed so for
 * long enough to be given up on: look again later.
 */
export type ReadOutcome = { ok: true; task: Task; text: string } | { ok: false; reason: 'missing' | 'quarantined' | 'not_ready'; problem?: string };

/**
 * gone: another process moved the file first; declined: `change` returned null; quarantined: it
 * was not a task; unreadable: it could not be read as a task for now (try again later).
 */
export type ReplaceOutcome = { ok: true; task: Task; text: string } | { ok: false; reason: 'gone' | 'declined' | 'quarantined' | 'unreadable' };

/** A task file's version as its reader or writer saw it: its text and what it parsed to. */
export interface KnownVersion {
  text: string;
  task: Task;
}

/**
 * won false: another claimer took it first (or it went back to queue/: not what the caller
 * expected). task: the claimed version as written to processing/ (`text`), and the task as it
 * was queued (`was`); null when the claim was won but not recorded (see claimRecorded).
 */
export type ClaimOutcome = { won: false } | { won: true; task: Task; text: string; was: Task } | { won: true; task: null };

export interface StoreOptions {
  /** See TAKEN_STALE_MS. */
  takenStaleMs?: number;
  /** How long (ms) a task file must stay unchanged and unreadable before it is quarantined; default 30 s. */
  unreadableGraceMs?: number;
  /** The clock that grace is judged on: this process's own (default: monotonic), never file times. */
  now?: () => number;
  /** Folders only this process writes (the brain's private/): what it cannot read there is quarantined at once. */
  ownFolders?: readonly TaskFolder[];
  /** This process's doorbell: every move it makes into queue/, processing/, complete/ or failed/ is rung there. */
  bell?: Doorbell;
}
