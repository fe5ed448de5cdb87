// The rules for what a task fills in: {NAME} placeholders must name an input (or BATCH_PATH),
// {ITEM...} only in a task with a foreach, never in code an interpreter runs, and a lower-case
// look-alike is reported because it would stay as text.
import { inlineCodeArgs, positionalHint } from './inlineCode.ts';
import { fieldLine, type Problem, type RuleContext, type TaskRule } from './ruleContext.ts';
import { BATCH_PATH, CHECKPOINT_DIR, ITEM, findPlaceholders, isItemPlaceholder } from './substitute.ts';
import { tokenizeCommand } from './tokenize.ts';
import type { PlanTaskSpec } from './types.ts';

/** Problems with the placeholders in one field's text, each placeholder reported once. */
export function placeholderProblems(task: PlanTaskSpec, text: string, field: string, allowItem: boolean, ctx: RuleContext): Problem[] {
  const t = `task '${task.name}'`;
  const line = fieldLine(task, field);
  const found: Problem[] = [];
  const at = (message: string) => found.push({ line, message });
  const reported = new Set<string>();
  for (const p of findPlaceholders(text)) {
    if (reported.has(p.name)) continue;
    reported.add(p.name);
    if (isItemPlaceholder(p.name)) {
      if (!allowItem) {
        at(`${t}: {${p.name}} cannot be used in ${field}: the manifest path is read before any item exists; use {BATCH_PATH} and inputs only`);
      } else if (task.raw.foreach === undefined) {
        at(`${t}: {${p.name}} is only filled in a task with a foreach; add '- **foreach**: {BATCH_PATH}/manifest.json:items' or remove the placeholder`);
      }
    } else if (p.name === CHECKPOINT_DIR) {
      if (!allowItem) at(`${t}: {${CHECKPOINT_DIR}} cannot be used in ${field}: it is the task's own checkpoint folder, known only once the task exists; use {BATCH_PATH} and inputs only`);
    } else if (p.name !== BATCH_PATH && !ctx.inputNames.has(p.name)) {
      at(`${t}: placeholder {${p.name}} in ${field} names no input${ctx.meant(p.name, ctx.placeholderNames)}; ${ctx.inputList}; declare it in '## Inputs' as '- **${p.name}**: default', or fix the name`);
    }
  }
  // Lower-case look-alikes of real placeholders are not placeholders and would stay as text.
  const lookAlikes = new Set<string>();
  for (const m of text.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z0-9_.-]+)?\}/g)) {
    const name = m[1]!;
    const upper = name.toUpperCase();
    if (name === upper) continue;
    if (upper === ITEM || upper === BATCH_PATH || upper === CHECKPOINT_DIR || ctx.inputNames.has(upper)) {
      if (lookAlikes.has(m[0])) continue;
      lookAlikes.add(m[0]);
      at(`${t}: '${m[0]}' in ${field} is not a placeholder (placeholder names are upper case) and would stay as text; write {${upper}${m[2] ?? ''}}`);
    }
  }
  return found;
}

/** The command's argument vector, or null when it is not one well-formed command (commandWellFormed reports it). */
function commandArgv(task: PlanTaskSpec): string[] | null {
  if (!task.command || task.command.startsWith('`')) return null;
  const tokens = tokenizeCommand(task.command);
  return tokens.ok ? tokens.argv : null;
}

const commandWellFormed: TaskRule = {
  name: 'command is one well-formed command line',
  check: (task) => {
    const t = `task '${task.name}'`;
    const line = fieldLine(task, 'command');
    if (task.command?.startsWith('`')) {
      return [{ line, message: `${t}: command must be one pair of backticks around the whole command, with nothing after the closing one, e.g. \`node scripts/run.mjs {BATCH_PATH}\`; found '${task.command}'` }];
    }
    if (!task.command) return [];
    const tokens = tokenizeCommand(task.command);
    return tokens.ok ? [] : [{ line, message: `${t}: command, column ${tokens.column}: ${tokens.error}` }];
  },
};

const commandPlaceholders: TaskRule = {
  name: 'command placeholders are filled',
  check: (task, ctx) => (commandArgv(task) ? placeholderProblems(task, task.command!, 'command', true, ctx) : []),
};

const noPlaceholderInCode: TaskRule = {
  name: 'no placeholder inside inline code',
  check: (task) => {
    const argv = commandArgv(task);
    if (!argv) return [];
    const code = inlineCodeArgs(argv);
    return code.indexes.flatMap((idx) =>
      findPlaceholders(argv[idx]!).map((p) => ({
        line: fieldLine(task, 'command'),
        message: `task '${task.name}': {${p.name}} is inside the code that ${code.interpreter} runs, so its value would run as code; pass it as a positional argument instead: ${positionalHint(code.interpreter, p.name)}`,
      })),
    );
  },
};

const promptPlaceholders: TaskRule = {
  name: 'prompt placeholders are filled',
  check: (task, ctx) => (task.prompt ? placeholderProblems(task, task.prompt, 'prompt', true, ctx) : []),
};

const modelPlaceholders: TaskRule = {
  name: 'model placeholders are filled, without {ITEM}',
  check: (task, ctx) => (task.model ? placeholderProblems(task, task.model, 'model', false, ctx) : []),
};

/** In this order, after the field rules and before the foreach rules (taskRules.ts). */
export const PLACEHOLDER_RULES: readonly TaskRule[] = [commandWellFormed, commandPlaceholders, noPlaceholderInCode, promptPlaceholders, modelPlaceholders];
