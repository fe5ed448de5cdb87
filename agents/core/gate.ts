// Gate tasks: a task with `gate: true` in its plan decides whether the tasks behind it run.
// Its verdict is its result file, {BATCH_PATH}/outputs/<task name>.json:
//   {"proceed": true|false, "reason": "..."}   (reason optional)
// The worker reads and checks it once the task exits 0 (worker/gateCheck.ts) and carries it
// on the WorkerResult as `gate`; the brain skips every task behind a gate that said no
// (brain/gateSkip.ts). This module is the one home of the verdict's schema and its read.
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from './zod.ts';
import { isGone } from './errors.ts';
import { parseJsonText } from './mountJson.ts';
import { readMountFile } from './mountRead.ts';
import { childPath } from './paths.ts';

/** The largest verdict file read: a verdict is a few words; anything bigger is not one. */
export const MAX_VERDICT_BYTES = 64 * 1024;
/** A verdict's reason is cut to this many characters: it is copied into the reason of every task it skips. */
export const MAX_GATE_REASON_CHARS = 300;

/** The verdict as the gate writes it: other keys (a parse task's schema may hold more) are ignored. */
const VerdictFile = z.object({ proceed: z.boolean(), reason: z.optional(z.nullable(z.string())) });

/** The verdict as the rig carries it on the gate's result. */
export const GateVerdict = z.object({ proceed: z.boolean(), reason: z.nullable(z.string()) });
export type GateVerdict = z.infer<typeof GateVerdict>;

/** The expected form, said in every problem with a verdict. */
export const VERDICT_FORM = '{"proceed": true|false, "reason": "..."} (reason optional)';

export type VerdictRead = { ok: true; verdict: GateVerdict } | { ok: false; problem: string };

/** Where a gate's verdict is: its result file. */
export function verdictPath(batchPath: string, taskName: string): string {
  return childPath(join(batchPath, 'outputs'), `${taskName}.json`, 'task name');
}

function cutReason(reason: string | null | undefined): string | null {
  const r = reason?.trim();
  if (!r) return null;
  return r.length > MAX_GATE_REASON_CHARS ? `${r.slice(0, MAX_GATE_REASON_CHARS - 1)}…` : r;
}

/** An answer's text without a ```json fence around it. */
function unfence(text: string): string {
  const m = /^\s*```[a-zA-Z]*\s*\n([\s\S]*?)\n\s*```\s*$/.exec(text);
  return m ? m[1]! : text;
}

/**
 * Pure: the verdict in a result file's text. A generate task's file is {"text": answer}: its
 * verdict is the answer, which must itself be the verdict's JSON (a parse task with an
 * output_schema is the surer way to ask an LLM for one).
 */
export function parseVerdict(text: string, type: string): VerdictRead {
  let body = text;
  if (type === 'generate') {
    const answer = parseJsonText(text, z.object({ text: z.string() }), 'a generate result ({"text": "..."})');
    if (!answer.ok) return { ok: false, problem: answer.problem };
    body = unfence(answer.value.text);
  }
  const checked = parseJsonText(body, VerdictFile, `a gate verdict ${VERDICT_FORM}`);
  if (!checked.ok) return { ok: false, problem: type === 'generate' ? `the answer is ${checked.problem}` : checked.problem };
  return { ok: true, verdict: { proceed: checked.value.proceed, reason: cutReason(checked.value.reason) } };
}

/** Reads the gate's verdict file, bounded: a missing, oversized or malformed one is a problem in words, never a throw. */
export async function readVerdict(batchPath: string, taskName: string, type: string): Promise<VerdictRead> {
  const file = verdictPath(batchPath, taskName);
  const r = await readMountFile(file, { maxBytes: MAX_VERDICT_BYTES });
  if (!r.ok) return { ok: false, problem: r.why === 'missing' ? 'it does not exist' : r.detail };
  return parseVerdict(r.text, type);
}

/** Removes an earlier attempt's verdict before the gate runs again, so only this attempt's own can count. */
export async function clearVerdict(batchPath: string, taskName: string): Promise<void> {
  await unlink(verdictPath(batchPath, taskName)).catch((err: unknown) => {
    if (!isGone(err)) throw err;
  });
}

/** The reason a task behind a gate that said no is skipped with. */
export function gateSaidNo(gateName: string, verdict: Pick<GateVerdict, 'reason'>): string {
  return `gate ${gateName} said no: ${verdict.reason ?? 'no reason given'}`;
}
