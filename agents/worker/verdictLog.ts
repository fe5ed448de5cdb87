// The executor's verdict on a shell task, as a line on the worker's stderr: ALLOWED at debug,
// BLOCKED at info, NEEDS_APPROVAL at warn (a person has to act), under the `executor`
// component's level (FORGE_LOG_LEVEL_EXECUTOR, else FORGE_LOG_LEVEL; core/logLevel.ts). The
// verdict itself reaches the brain and the decision log through the task's result; this line
// is for someone reading one worker's output.
import { type LogLevel, type Logger, loggerFromEnv } from '../core/logLevel.ts';
import type { PolicyDecision, Verdict } from './policyTypes.ts';

export const VERDICT_LEVEL: Readonly<Record<Verdict, LogLevel>> = { ALLOWED: 'debug', BLOCKED: 'info', NEEDS_APPROVAL: 'warn' };

/** `BLOCKED b1__scan attempt 2: blocked: "curl" is a network tool (...)`. */
export function verdictLine(decision: PolicyDecision, taskId: string, attempt: number): string {
  return `${decision.verdict} ${taskId} attempt ${attempt}: ${decision.reason}`;
}

let executor: Logger | null = null;

/** Writes the verdict's line at its level (the logger is made once, from the environment). */
export function logVerdict(decision: PolicyDecision, taskId: string, attempt: number): void {
  executor ??= loggerFromEnv('executor', `worker[${process.pid}] executor`);
  executor.at(VERDICT_LEVEL[decision.verdict], verdictLine(decision, taskId, attempt));
}
