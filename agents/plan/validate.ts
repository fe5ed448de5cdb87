// The named rules of a plan, checked all at once: every problem is reported as
// `file:line: message`, sorted by line, and each message says what was expected and what
// to do. Pure: the plan and the input values in, problems out.
import { EXECUTORS, TASK_CLASSES, TASK_NAME } from '../core/task.ts';
import { findCycles, longestChain } from './graph.ts';
import { PLAN_LIMITS } from './limits.ts';
import { PLAN_TASK_TYPES, suggest } from './parse.ts';
import { BATCH_PATH, ITEM, findPlaceholders, isItemPlaceholder } from './substitute.ts';
import { closestNames, didYouMean, listNames } from './suggest.ts';
import { figure } from './textLimits.ts';
import { tokenizeCommand } from './tokenize.ts';
import type { Plan, PlanTaskSpec } from './types.ts';

export { findCycles };

/** Input names: how they are written in {NAME}. */
export const INPUT_NAME = /^[A-Z_][A-Z0-9_]*$/;
/** Names the rig fills; no input may take them. */
export const RESERVED_INPUTS = [BATCH_PATH, ITEM] as const;
/** The rig adds a task of this name to every batch. */
export const SUMMARY_TASK = 'batch_summary';
/** A foreach key: a dotted name, or empty for a manifest that is itself the array. */
export const FOREACH_KEY = /^([A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)?$/;

interface Problem {
  line: number;
  message: string;
}

/** Input values from a submission's config: numbers and booleans become their String(). */
export function inputValuesFromConfig(config: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, String(v)]));
}

/** Sorts `file:line: message` problems by file, then line; keeps the order of equal lines. */
export function sortProblems(problems: string[]): string[] {
  const key = (p: string) => {
    const m = /^(.*?):(\d+): /.exec(p);
    return m ? { file: m[1]!, line: Number(m[2]) } : { file: '', line: 0 };
  };
  return problems
    .map((p, i) => ({ p, i, k: key(p) }))
    .sort((a, b) => (a.k.file === b.k.file ? a.k.line - b.k.line || a.i - b.i : a.k.file < b.k.file ? -1 : 1))
    .map((x) => x.p);
}

function programName(arg: string | undefined): string {
  return (arg ?? '').split('/').pop()!.toLowerCase();
}

const SHELLS = /^(sh|bash|dash|zsh|ksh|ash|mksh)$/;
const PYTHON = /^python[0-9.]*$/;

/**
 * Indexes of the arguments an interpreter runs as code (sh -c CODE, python -c CODE,
 * node -e CODE, perl -e CODE, ruby -e CODE), looking through env/nice/nohup/timeout.
 * A placeholder there would make its value code; it must be a positional argument instead.
 */
export function inlineCodeArgs(argv: string[]): { indexes: number[]; interpreter: string } {
  let i = 0;
  for (;;) {
    const p = programName(argv[i]);
    if (p === 'env' || p === 'nice' || p === 'nohup' || p === 'timeout' || p === 'stdbuf' || p === 'time') {
      i++;
      while (i < argv.length && (argv[i]!.startsWith('-') || /^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[i]!))) i++;
      if (p === 'timeout' && i < argv.length) i++; // the duration
      continue;
    }
    break;
  }
  const prog = programName(argv[i]);
  const indexes: number[] = [];
  const args = (from: number, step: (arg: string, j: number) => 'stop' | 'skip' | 'next') => {
    for (let j = from; j < argv.length; j++) {
      const r = step(argv[j]!, j);
      if (r === 'stop') return;
      if (r === 'skip') j++;
    }
  };
  if (SHELLS.test(prog)) {
    args(i + 1, (a, j) => {
      if (a === '--' || !/^[-+]/.test(a)) return 'stop'; // a script file: no inline code
      if (a === '-o' || a === '+o') return 'skip';
      if (/^-[A-Za-z]*c[A-Za-z]*$/.test(a)) {
        if (j + 1 < argv.length) indexes.push(j + 1);
        return 'stop';
      }
      return 'next';
    });
  } else if (PYTHON.test(prog)) {
    args(i + 1, (a, j) => {
      if (!a.startsWith('-') || a === '-m' || a === '--') return 'stop';
      if (/^-[A-Za-z]*c$/.test(a)) {
        if (j + 1 < argv.length) indexes.push(j + 1);
        return 'stop';
      }
      if (/^-c./.test(a)) {
        indexes.push(j);
        return 'stop';
      }
      return a === '-W' || a === '-X' ? 'skip' : 'next';
    });
  } else if (prog === 'node' || prog === 'nodejs' || prog === 'deno' || prog === 'bun') {
    args(i + 1, (a, j) => {
      if (!a.startsWith('-') || a === '--') return 'stop';
      if (a === '-e' || a === '--eval' || a === '-p' || a === '--print' || a === '-pe' || a === '-ep') {
        if (j + 1 < argv.length) indexes.push(j + 1);
        return 'skip';
      }
      if (a.startsWith('--eval=') || a.startsWith('--print=')) {
        indexes.push(j);
        return 'next';
      }
      return a === '-r' || a === '--require' || a === '--import' || a === '--loader' ? 'skip' : 'next';
    });
  } else if (prog === 'perl' || prog === 'ruby') {
    args(i + 1, (a, j) => {
      if (!a.startsWith('-') || a === '--') return 'stop';
      if (/^-[A-Za-z]*[eE]$/.test(a)) {
        if (j + 1 < argv.length) indexes.push(j + 1);
        return 'skip';
      }
      return 'next';
    });
  }
  return { indexes, interpreter: prog };
}

function positionalHint(interpreter: string, placeholder: string): string {
  const ph = `{${placeholder}}`;
  if (SHELLS.test(interpreter)) return `${interpreter} -c '... "$1" ...' ${interpreter} ${ph}`;
  if (PYTHON.test(interpreter)) return `${interpreter} -c '... sys.argv[1] ...' ${ph}`;
  if (interpreter === 'perl') return `perl -e '... $ARGV[0] ...' ${ph}`;
  if (interpreter === 'ruby') return `ruby -e '... ARGV[0] ...' ${ph}`;
  return `${interpreter} -e '... process.argv[1] ...' ${ph}`;
}

export function validatePlan(plan: Plan, values: Record<string, string>): string[] {
  const found: Problem[] = [];
  const at = (line: number, message: string) => found.push({ line, message });
  const budget = { used: 0, cells: PLAN_LIMITS.suggestionCells };
  const meant = (written: string, names: readonly string[]) => didYouMean(closestNames(written, names, PLAN_LIMITS.suggestions, budget));
  const inputsLine = plan.sectionLines.inputs ?? 1;

  // Inputs and the values given for them.
  const inputNames = new Set<string>();
  const inputLines = new Map<string, number>();
  for (const input of plan.inputs) {
    if ((RESERVED_INPUTS as readonly string[]).includes(input.name)) {
      at(input.line, `input '${input.name}' is reserved: {${input.name}} is filled by the rig; give the input another name`);
    } else if (!INPUT_NAME.test(input.name)) {
      const upper = input.name.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
      at(input.line, `input name '${input.name}' is not valid: write it in upper case letters, digits and '_' (e.g. ${upper}), and use it as {${upper}}`);
    }
    if (inputLines.has(input.name)) {
      at(input.line, `input '${input.name}' is declared twice (first at line ${inputLines.get(input.name)}); keep one`);
      continue;
    }
    inputNames.add(input.name);
    inputLines.set(input.name, input.line);
    if (input.default === null && !Object.prototype.hasOwnProperty.call(values, input.name)) {
      at(input.line, `input '${input.name}' has no default and no value was given: pass it with --config '{"${input.name}": "..."}' (or in the submission's config), or give it a default ('- **${input.name}**: value')`);
    }
  }
  const inputArray = [...inputNames];
  const placeholderNames = [...inputArray, BATCH_PATH];
  const inputList = listNames('inputs', inputArray);
  for (const [key, value] of Object.entries(values)) {
    if ((RESERVED_INPUTS as readonly string[]).includes(key)) {
      at(inputsLine, `config gives '${key}', which the rig sets itself; remove it from the config`);
    } else if (!inputNames.has(key)) {
      at(inputsLine, `config gives '${key}', but the plan has no input ${key}${meant(key, inputArray)}; ${inputList}; declare it in '## Inputs' as '- **${key}**: default' or remove it from the config`);
    }
    if (value.includes('\0')) at(inputsLine, `config value of '${key}' contains a NUL character, which no program argument can hold; remove it`);
  }

  // Task names.
  if (plan.tasks.length === 0) {
    at(plan.sectionLines.tasks ?? 1, `the plan has no tasks: add a '## Tasks' section with one '### name' heading per task, each followed by fields such as '- **command**: \`node scripts/run.mjs {BATCH_PATH}\`'`);
  }
  const byName = new Map<string, PlanTaskSpec>();
  for (const task of plan.tasks) {
    if (task.name === SUMMARY_TASK) {
      at(task.line, `task name '${SUMMARY_TASK}' is reserved: the rig adds a ${SUMMARY_TASK} task to every batch; give this task another name`);
    } else if (task.name.includes('.')) {
      at(task.line, `task name '${task.name}' is not valid: '.' is reserved for foreach children (<template>.<n>); use letters, digits, '_' and '-'`);
    } else if (!TASK_NAME.test(task.name)) {
      at(task.line, `task name '${task.name}' is not valid: use letters, digits, '_' and '-', starting with a letter or digit, at most 64 characters (e.g. ${task.name.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^[_-]+/, '').slice(0, 64) || 'scan'})`);
    }
    const first = byName.get(task.name);
    if (first) at(task.line, `task '${task.name}' is defined twice (first at line ${first.line}); task names must be unique`);
    else byName.set(task.name, task);
  }
  const taskNames = [...byName.keys()].filter((n) => n !== SUMMARY_TASK);
  const taskList = listNames('tasks', taskNames);

  for (const task of plan.tasks) checkTask(task);

  function checkTask(task: PlanTaskSpec): void {
    const t = `task '${task.name}'`;
    const lineOf = (field: string) => task.fieldLines[field] ?? task.line;
    const raw = task.raw;
    const hasForeach = raw.foreach !== undefined;

    // Values the parser could not read.
    const enumCheck = (field: string, allowed: readonly string[]) => {
      const v = raw[field];
      if (v !== undefined && !allowed.includes(v.toLowerCase())) {
        at(lineOf(field), `${t}: unknown ${field} '${v}'${suggest(v, allowed)}; allowed: ${allowed.join(', ')}`);
        return false;
      }
      return v !== undefined;
    };
    const classGiven = enumCheck('task_class', TASK_CLASSES);
    const executorGiven = enumCheck('executor', EXECUTORS);
    if (raw.type?.toLowerCase() === SUMMARY_TASK) {
      at(lineOf('type'), `${t}: type '${SUMMARY_TASK}' is reserved for the summary the rig adds itself; allowed: ${PLAN_TASK_TYPES.join(', ')}`);
    } else {
      enumCheck('type', PLAN_TASK_TYPES);
    }
    if (raw.vram_estimate_mb !== undefined && task.vram_estimate_mb === null) {
      at(lineOf('vram_estimate_mb'), `${t}: vram_estimate_mb must be a whole number of MB, e.g. 1024; found '${raw.vram_estimate_mb}'`);
    }
    if (raw.timeout_s !== undefined && !(task.timeout_s !== null && task.timeout_s > 0)) {
      at(lineOf('timeout_s'), `${t}: timeout_s must be a whole number of seconds above 0, e.g. 600; found '${raw.timeout_s}'`);
    }
    if (raw.output_schema !== undefined && task.output_schema === null) {
      let why = 'not a JSON object';
      try {
        JSON.parse(raw.output_schema);
      } catch (err) {
        why = `not valid JSON: ${(err as Error).message}`;
      }
      at(lineOf('output_schema'), `${t}: output_schema must be a JSON object in backticks, e.g. \`{"type": "object", "properties": {"score": {"type": "number"}}}\`; found ${why}`);
    }

    // Who runs what.
    const meta = task.type === 'load_llm' || task.type === 'unload_llm';
    const llm = task.type === 'generate' || task.type === 'parse';
    if (executorGiven) {
      if (task.executor === 'brain') {
        at(lineOf('executor'), `${t}: executor 'brain' is reserved for the ${SUMMARY_TASK} the rig adds itself; use worker (or agent for load_llm/unload_llm), or leave executor out`);
      } else if (task.executor === 'agent' && !meta) {
        at(lineOf('executor'), `${t}: executor 'agent' runs only load_llm and unload_llm tasks; use worker for a ${task.type} task, or leave executor out`);
      } else if (task.executor === 'worker' && meta) {
        at(lineOf('executor'), `${t}: ${task.type} tasks are run by the GPU agent itself: set executor agent, or leave executor out`);
      }
    }
    if (classGiven && task.task_class !== null) {
      if (llm && task.task_class !== 'llm') {
        at(lineOf('task_class'), `${t}: type ${task.type} needs an LLM: task_class must be llm (or leave task_class out)`);
      } else if (meta && task.task_class !== 'meta') {
        at(lineOf('task_class'), `${t}: type ${task.type} is a meta task: task_class must be meta (or leave task_class out)`);
      } else if (!llm && !meta && task.task_class === 'meta') {
        at(lineOf('task_class'), `${t}: task_class meta is only for load_llm/unload_llm tasks the GPU agent runs; a command is cpu, script or llm`);
      }
    }
    if (task.type === 'shell' && task.executor === 'worker' && !task.command) {
      at(raw.command !== undefined ? lineOf('command') : task.line, `${t} has no command: a shell task needs '- **command**: \`program arguments\`', e.g. \`node scripts/run.mjs {BATCH_PATH}\``);
    }
    if (llm && !task.prompt) {
      at(raw.prompt !== undefined ? lineOf('prompt') : task.line, `${t} has no prompt: a ${task.type} task needs '- **prompt**: text', where {NAME} placeholders are filled`);
    }
    if (task.type === 'parse' && raw.output_schema === undefined) {
      at(task.line, `${t} has no output_schema: a parse task needs '- **output_schema**: \`{...}\`', the JSON Schema its answer must follow`);
    }

    // Placeholders, in every field that is filled.
    const reported = new Set<string>();
    const checkPlaceholders = (text: string, field: string, allowItem: boolean) => {
      const line = lineOf(field);
      for (const p of findPlaceholders(text)) {
        const key = `${field}:${p.name}`;
        if (reported.has(key)) continue;
        reported.add(key);
        if (isItemPlaceholder(p.name)) {
          if (!allowItem) {
            at(line, `${t}: {${p.name}} cannot be used in ${field}: the manifest path is read before any item exists; use {BATCH_PATH} and inputs only`);
          } else if (!hasForeach) {
            at(line, `${t}: {${p.name}} is only filled in a task with a foreach; add '- **foreach**: {BATCH_PATH}/manifest.json:items' or remove the placeholder`);
          }
        } else if (p.name !== BATCH_PATH && !inputNames.has(p.name)) {
          at(line, `${t}: placeholder {${p.name}} in ${field} names no input${meant(p.name, placeholderNames)}; ${inputList}; declare it in '## Inputs' as '- **${p.name}**: default', or fix the name`);
        }
      }
      // Lower-case look-alikes of real placeholders are not placeholders and would stay as text.
      for (const m of text.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z0-9_.-]+)?\}/g)) {
        const name = m[1]!;
        const upper = name.toUpperCase();
        if (name === upper) continue;
        if (upper === ITEM || upper === BATCH_PATH || inputNames.has(upper)) {
          const want = `{${upper}${m[2] ?? ''}}`;
          if (reported.has(`${field}:case:${m[0]}`)) continue;
          reported.add(`${field}:case:${m[0]}`);
          at(line, `${t}: '${m[0]}' in ${field} is not a placeholder (placeholder names are upper case) and would stay as text; write ${want}`);
        }
      }
    };
    if (task.command?.startsWith('`')) {
      at(lineOf('command'), `${t}: command must be one pair of backticks around the whole command, with nothing after the closing one, e.g. \`node scripts/run.mjs {BATCH_PATH}\`; found '${task.command}'`);
    } else if (task.command) {
      const tokens = tokenizeCommand(task.command);
      if (!tokens.ok) {
        at(lineOf('command'), `${t}: command, column ${tokens.column}: ${tokens.error}`);
      } else {
        checkPlaceholders(task.command, 'command', true);
        const code = inlineCodeArgs(tokens.argv);
        for (const idx of code.indexes) {
          for (const p of findPlaceholders(tokens.argv[idx]!)) {
            at(lineOf('command'), `${t}: {${p.name}} is inside the code that ${code.interpreter} runs, so its value would run as code; pass it as a positional argument instead: ${positionalHint(code.interpreter, p.name)}`);
          }
        }
      }
    }
    if (task.prompt) checkPlaceholders(task.prompt, 'prompt', true);
    if (task.model) checkPlaceholders(task.model, 'model', false);

    // foreach.
    if (hasForeach) {
      const line = lineOf('foreach');
      const spec = task.foreach;
      if (!spec) {
        at(line, `${t}: foreach must be '<manifest path>:<key>', e.g. {BATCH_PATH}/manifest.json:videos; found '${raw.foreach}' (no ':'); write '<path>:' for a manifest that is itself the list`);
      } else {
        if (!spec.path.startsWith(`{${BATCH_PATH}}/`)) {
          at(line, `${t}: foreach manifest path must be under {BATCH_PATH}/ (the batch's output folder, where an earlier task writes it); found '${spec.path}'`);
        } else if (spec.path.split('/').includes('..')) {
          at(line, `${t}: foreach manifest path must stay inside {BATCH_PATH}; remove '..' from '${spec.path}'`);
        }
        checkPlaceholders(spec.path, 'foreach', false);
        if (!FOREACH_KEY.test(spec.key)) {
          at(line, `${t}: foreach key must be a dotted name such as videos or data.items (or empty for a manifest that is itself the list); found '${spec.key}'`);
        }
      }
      if (task.depends_on.length === 0) {
        at(line, `${t} has a foreach but no depends_on: its manifest is read once its dependencies complete, so depend on the task that writes it`);
      }
    }

    // Dependencies (cycles are found below, over the whole plan).
    const seen = new Set<string>();
    for (const dep of task.depends_on) {
      if (seen.has(dep)) continue;
      seen.add(dep);
      if (dep === SUMMARY_TASK) {
        at(lineOf('depends_on'), `${t}: cannot depend on ${SUMMARY_TASK}: the rig adds it and it runs after every other task`);
      } else if (!byName.has(dep)) {
        at(lineOf('depends_on'), `${t}: depends_on names '${dep}', which is not a task of this plan${meant(dep, taskNames)}; ${taskList}`);
      }
    }
  }

  for (const cycle of findCycles(byName)) {
    const start = byName.get(cycle[0]!)!;
    at(start.fieldLines.depends_on ?? start.line, `dependency cycle: ${cycle.join(' -> ')} (each task waits for the next, so none of them can start); remove one of these dependencies`);
  }
  const chain = longestChain(byName);
  if (chain.length > PLAN_LIMITS.dependencyDepth) {
    const last = byName.get(chain[0]!)!;
    const shown = chain.length > 6 ? [...chain.slice(0, 3), '...', ...chain.slice(-3)] : chain;
    at(last.fieldLines.depends_on ?? last.line, `task '${last.name}' ends a chain of ${figure(chain.length)} tasks each waiting for the one before (${shown.join(' <- ')}), over the limit of ${figure(PLAN_LIMITS.dependencyDepth)} for the longest dependency chain; tasks in a chain run one at a time, each a brain cycle after the last: let independent tasks depend on a common task instead, or split the plan`);
  }

  const file = plan.file;
  return sortProblems(found.map((p) => `${file}:${p.line}: ${p.message}`));
}
