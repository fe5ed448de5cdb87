// logs/brain_decisions.log: one human-readable line per decision, made for tail -f.
import { appendFile } from 'node:fs/promises';
import { isoTime } from './clock.ts';

export interface Decision {
  /** Who decided: brain, gpu-1, rig. */
  who: string;
  /** What, as one upper-case verb: RELEASE, RETRY, GIVE_UP, EXPAND, ... */
  what: string;
  task?: string | null;
  batch?: string | null;
  attempt?: { n: number; of: number } | null;
  reason?: string | null;
}

export function formatDecision(d: Decision, nowMs: number): string {
  const parts = [isoTime(nowMs), d.who.padEnd(6), d.what];
  if (d.batch) parts.push(`batch=${d.batch}`);
  if (d.task) parts.push(`task=${d.task}`);
  if (d.attempt) parts.push(`attempt ${d.attempt.n} of ${d.attempt.of}`);
  let line = parts.join(' ');
  if (d.reason) line += ` — ${d.reason.replace(/\s*\n\s*/g, ' ')}`;
  return line;
}

/** One line of the log read back, as formatDecision wrote it. */
export interface DecisionLine {
  t: number;
  who: string;
  what: string;
  task: string | null;
  text: string;
}

/** The time, who, what and task of a line formatDecision wrote; null for any other line. */
export function parseDecisionLine(line: string): DecisionLine | null {
  const m = /^(\S+) (\S+)\s+(\S+)((?: (?:batch|task)=\S+)*)/.exec(line);
  if (!m) return null;
  const t = Date.parse(m[1]!);
  if (Number.isNaN(t)) return null;
  const task = /task=(\S+)/.exec(m[4] ?? '')?.[1] ?? null;
  return { t, who: m[2]!, what: m[3]!, task, text: line };
}

export class DecisionLog {
  private readonly file: string;
  private readonly now: () => number;
  constructor(file: string, now: () => number = Date.now) {
    this.file = file;
    this.now = now;
  }
  /** One append per line: O_APPEND writes of one short line do not interleave on a local disk. */
  async write(d: Decision): Promise<string> {
    const line = formatDecision(d, this.now());
    await appendFile(this.file, line + '\n');
    return line;
  }
}
