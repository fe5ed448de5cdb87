// The brain's own model behind a deterministic gate: rules decide everything they can; the
// model is asked only what rules cannot judge, the quality of generated text (1-5). With no
// brain model configured, or the model unreachable, the rules' verdict (accept) stands.
import type { Config } from '../core/config.ts';
import type { DecisionLog } from '../core/decisionLog.ts';
import { errorMessage } from '../core/errors.ts';
import { MAX_RECORD_BYTES, readMountFile } from '../core/mountRead.ts';
import type { Task } from '../core/task.ts';
import { OllamaRuntime, ollamaUrl } from '../llm/ollamaRuntime.ts';
import type { ModelRuntime } from '../llm/runtime.ts';
import { countFailures } from './retry.ts';

export interface Verdict {
  score: number;
  reason: string;
  model: string;
  requeue: boolean;
}

const SCHEMA = {
  type: 'object',
  properties: { score: { type: 'integer' }, reason: { type: 'string' } },
  required: ['score', 'reason'],
};

/** Pure: whether the model's answer sends the task back. Only an app-attempt budget left allows it. */
export function judgeScore(answer: unknown, task: Task, minScore: number): { score: number; reason: string; requeue: boolean } | null {
  if (typeof answer !== 'object' || answer === null) return null;
  const { score, reason } = answer as { score?: unknown; reason?: unknown };
  if (typeof score !== 'number' || !Number.isInteger(score) || score < 1 || score > 5) return null;
  const text = typeof reason === 'string' ? reason.slice(0, 300) : '';
  return { score, reason: text, requeue: score < minScore && countFailures(task).app + 1 < task.max_attempts };
}

export class Evaluator {
  private readonly runtime: ModelRuntime | null;
  private readonly config: Config;
  private readonly log: DecisionLog;
  private warned = false;

  constructor(config: Config, log: DecisionLog, runtime?: ModelRuntime) {
    this.config = config;
    this.log = log;
    const b = config.brain_llm;
    this.runtime = runtime ?? (b ? new OllamaRuntime(ollamaUrl(config.ollama_host, b.port), { generateTimeoutMs: 120_000 }) : null);
  }

  /** Rules first: only completed generate tasks not yet judged, and only with a brain model. */
  async judge(t: Task): Promise<Verdict | null> {
    const b = this.config.brain_llm;
    if (!b || !this.runtime || t.type !== 'generate' || t.evaluation !== null || t.result?.outcome !== 'success') return null;
    const output = typeof (t.result.output as { text?: unknown } | undefined)?.text === 'string'
      ? (t.result.output as { text: string }).text
      // The path comes from a task file: read bounded, and only a regular file (never /dev/zero or a FIFO).
      : await readMountFile(t.result.stdout_path ?? '', { maxBytes: MAX_RECORD_BYTES }).then((r) => (r.ok ? r.text : ''));
    try {
      const res = await this.runtime.generate({
        model: b.model,
        format: SCHEMA,
        prompt: `Rate how well the answer fulfils the request, from 1 (useless) to 5 (excellent). Reply as JSON {"score": n, "reason": "..."}.\n\nRequest:\n${t.prompt ?? ''}\n\nAnswer:\n${output}`,
      });
      const v = judgeScore(JSON.parse(res.text), t, b.min_score);
      if (!v) return null;
      return { ...v, model: b.model };
    } catch (err) {
      if (!this.warned) {
        this.warned = true;
        await this.log.write({ who: 'brain', what: 'EVALUATE_SKIPPED', task: t.id, reason: `brain model unavailable (${errorMessage(err)}); rules accept the output` });
      }
      return null;
    }
  }
}
