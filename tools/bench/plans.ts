// Plan folders for the benchmark's workloads, written into a temporary directory and then
// submitted like any other plan. Every shell task is a no-op (`true`), so what is measured is
// the rig, not the work; the LLM part's generate tasks are answered by the simulated cards.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface PlanTask {
  name: string;
  taskClass: 'cpu' | 'script';
  dependsOn?: string;
  vramMb?: number;
}

/** Task names that sort in run order: t0001, t0002, ... */
export function taskNames(count: number): string[] {
  const width = Math.max(4, String(count).length);
  return Array.from({ length: count }, (_, i) => `t${String(i + 1).padStart(width, '0')}`);
}

/** The plan.md text (pure): a title, a goal and one `### name` per task running `true`. */
export function renderPlan(title: string, goal: string, tasks: readonly PlanTask[]): string {
  const lines = [`# ${title}`, '', '## Goal', goal, '', '## Tasks', ''];
  for (const t of tasks) {
    lines.push(`### ${t.name}`, `- **task_class**: ${t.taskClass}`, '- **command**: `true`');
    if (t.dependsOn) lines.push(`- **depends_on**: ${t.dependsOn}`);
    if (t.vramMb !== undefined) lines.push(`- **vram_estimate_mb**: ${t.vramMb}`);
    lines.push('');
  }
  return lines.join('\n');
}

/** `count` independent no-op cpu tasks. */
export function independentTasks(count: number): PlanTask[] {
  return taskNames(count).map((name) => ({ name, taskClass: 'cpu' }));
}

/** A chain: each no-op cpu task depends on the one before it. */
export function chainTasks(count: number): PlanTask[] {
  const names = taskNames(count);
  return names.map((name, i) => ({ name, taskClass: 'cpu', ...(i > 0 ? { dependsOn: names[i - 1]! } : {}) }));
}

/** Independent no-op GPU (script) tasks, each reserving `vramMb`: sized so one fits a card at a time. */
export function gpuTasks(count: number, vramMb: number): PlanTask[] {
  return taskNames(count).map((name) => ({ name, taskClass: 'script', vramMb }));
}

/** Writes <dir>/<name>/plan.md and returns the plan folder. */
export function writePlanFolder(dir: string, name: string, title: string, goal: string, tasks: readonly PlanTask[]): Promise<string> {
  return writePlanText(dir, name, renderPlan(title, goal, tasks));
}

/** Writes `text` as <dir>/<name>/plan.md and returns the plan folder. */
export async function writePlanText(dir: string, name: string, text: string): Promise<string> {
  const planDir = join(dir, name);
  await mkdir(planDir, { recursive: true });
  await writeFile(join(planDir, 'plan.md'), text);
  return planDir;
}

/**
 * The plan.md text (pure) of `count` independent generate tasks (g0001, g0002, ...), each with
 * a prompt of its own, so every request is answered anew. Model and runtime are the rig's.
 */
export function renderGeneratePlan(title: string, goal: string, count: number): string {
  const lines = [`# ${title}`, '', '## Goal', goal, '', '## Tasks', ''];
  for (const [i, name] of taskNames(count).map((n) => n.replace(/^t/, 'g')).entries()) {
    lines.push(`### ${name}`, '- **type**: generate', `- **prompt**: Bench prompt ${i + 1}: write one sentence about the number ${i + 1}.`, '');
  }
  return lines.join('\n');
}
