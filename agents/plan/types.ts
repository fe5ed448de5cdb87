// The typed plan: what the parser makes of plan.md, before any batch exists.
import type { Executor, TaskClass, TaskType } from '../core/task.ts';

export interface PlanInput {
  name: string;
  /** null: no default, so a value must be given with --config. */
  default: string | null;
  description: string | null;
  line: number;
}

export interface PlanScript {
  name: string;
  /** The run command shown for it, if any. */
  run: string | null;
  description: string | null;
  line: number;
}

export interface PlanTaskSpec {
  name: string;
  /** Line of the task's heading in plan.md. */
  line: number;
  /** Line of each field, for error messages. */
  fieldLines: Record<string, number>;
  /**
   * Each field's value exactly as written (backticks around the whole value removed). The
   * typed fields below hold what could be read; validatePlan judges the raw text, so a value
   * the parser could not read (task_class: gpu) is still reported with its line.
   */
  raw: Record<string, string>;
  /** Text under the heading that is not a field (for people). */
  description: string | null;
  executor: Executor;
  task_class: TaskClass | null; // null: not given; the brain infers it from the command
  type: TaskType;
  /** The command exactly as written (without the surrounding backticks). */
  command: string | null;
  depends_on: string[];
  /** foreach: path template and dotted key, e.g. {BATCH_PATH}/manifest.json : videos */
  foreach: { path: string; key: string } | null;
  vram_estimate_mb: number | null;
  timeout_s: number | null;
  /** Attempts for its own failures; null: the config's retries.max_attempts. */
  max_attempts: number | null;
  /** The first retry's wait, s (doubled each retry); null: retries.backoff_base_s. */
  retry_delay_s: number | null;
  prompt: string | null;
  output_schema: Record<string, unknown> | null;
  model: string | null;
  /** gate: true makes the task's verdict decide whether the tasks behind it run; null: not given or not a boolean (false). */
  gate: boolean | null;
}

export interface Plan {
  /** Absolute path of plan.md. */
  file: string;
  /** Absolute path of the plan folder (commands run there). */
  dir: string;
  /** Folder name: the plan's name on the mount. */
  name: string;
  frontMatter: Record<string, unknown>;
  /** Line in plan.md of each top-level front matter key, for error messages (absent: line 1). */
  frontMatterLines?: Record<string, number>;
  title: string | null;
  goal: string | null;
  inputs: PlanInput[];
  scripts: PlanScript[];
  tasks: PlanTaskSpec[];
  /** Line of each known section heading (goal, inputs, scripts, tasks), for error messages. */
  sectionLines: Partial<Record<PlanSection, number>>;
}

export type PlanSection = 'goal' | 'inputs' | 'scripts' | 'tasks';
