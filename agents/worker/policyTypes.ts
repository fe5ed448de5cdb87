// What the executor policy's rules share: its inputs and outputs, the command being
// inspected, and how a rule reports what it found. Types and one formatter only, so that
// every rule module can import this without importing another rule.
import type { ExecutorPolicy } from '../core/config.ts';
import type { Redirect } from './shellRead.ts';

export type Verdict = 'ALLOWED' | 'BLOCKED' | 'NEEDS_APPROVAL';

export interface PolicyContext {
  policy: ExecutorPolicy;
  /** The task's working directory (absolute): relative paths resolve against it. */
  cwd: string;
  /** The batch folder (absolute): the only place recursive deletion is allowed. */
  batchPath: string;
  /** A person approved this task: lifts NEEDS_APPROVAL, never BLOCKED. */
  approved: boolean;
}

export interface PolicyDecision {
  verdict: Verdict;
  reason: string;
}

/** One command to inspect, with what is known about where it runs. */
export interface Command {
  words: string[];
  redirects: Redirect[];
  /** Came from a shell script: `$`, `~`, globs and braces in its words may expand. */
  shell: boolean;
  /** Directories it may run in (more than one after an unsure `cd`); null: unknown. */
  cwds: Array<string | null>;
  /** Where it was found, for the reason: 'bash -c', 'eval', 'find -exec'; null at the top. */
  via: string | null;
  /** Runs under xargs: more operands arrive on its input. */
  stdinOperands: boolean;
  depth: number;
}

export interface Finding {
  verdict: 'BLOCKED' | 'NEEDS_APPROVAL';
  reason: string;
  /** The word that decided it: named when a person's approval lifts it. */
  word: string;
}

/** Records a BLOCKED finding; the reason already says where (see `where`). */
export type Block = (reason: string, word: string) => void;

/** Inspects words as a command nested in the current one (a wrapper's or find -exec's command). */
export type InspectNested = (words: string[], extra?: Partial<Command>) => void;

/** A reason with the place it was found appended: `..., inside "sh -c"`. */
export function where(reason: string, cmd: Command): string {
  return cmd.via === null ? reason : `${reason}, inside "${cmd.via}"`;
}
