// forge ask on the LLM part's rig once its batch has ended (an agent is hot, the rig idle): the
// wall time of each command as a person runs it (start included), and the model's part of it
// (the answer's request_ms), so the rig's own share shows apart from generation.
import { execa } from 'execa';
import { commandArgsFor, projectRoot } from '../../agents/core/entry.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { AskAnswer } from '../../agents/core/request.ts';
import { checkSchema } from '../../agents/core/zodIssues.ts';
import { median } from './stats.ts';

export interface AskFigure {
  runs: number;
  /** Wall time of forge ask, command start to exit, ms: median and worst. */
  median_ms: number | null;
  max_ms: number | null;
  /** The answers' request_ms (the model's time, generation at simulator.tok_s included), median. */
  model_median_ms: number | null;
  /** Runs that exited non-zero or printed no answer. */
  failures: number;
}

export async function measureAsk(paths: MountPaths, runs: number): Promise<AskFigure> {
  const walls: number[] = [];
  const model: number[] = [];
  let failures = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await execa(process.execPath, [...commandArgsFor('ask'), `Bench question ${i + 1}: one line, please.`, '--json', '--timeout', '60', '--shared', paths.root], { reject: false, cwd: projectRoot });
    const ms = performance.now() - t0;
    const answer = r.exitCode === 0 ? checkSchema(AskAnswer, parseOrNull(String(r.stdout))) : null;
    if (!answer?.ok) {
      failures++;
      continue;
    }
    walls.push(ms);
    if (answer.value.request_ms !== null) model.push(answer.value.request_ms);
  }
  const round = (v: number | null) => (v === null ? null : Math.round(v));
  return { runs, median_ms: round(median(walls)), max_ms: walls.length ? Math.round(Math.max(...walls)) : null, model_median_ms: round(median(model)), failures };
}

function parseOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
