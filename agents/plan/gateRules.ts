// The rules over a task's `gate` field: a boolean, on a task that has a result of its own to
// hold the verdict (core/gate.ts). Each names the field's line, what was expected and found.
import { fieldLine, type Problem, type TaskRule } from './ruleContext.ts';
import type { PlanTaskSpec } from './types.ts';

const one = (line: number, message: string): Problem[] => [{ line, message }];
const isGate = (task: PlanTaskSpec) => task.raw.gate !== undefined && task.gate === true;

const gateBoolean: TaskRule = {
  name: 'gate is true or false',
  check: (task) =>
    task.raw.gate === undefined || task.gate !== null
      ? []
      : one(fieldLine(task, 'gate'), `task '${task.name}': gate must be true or false (true: the task's verdict decides whether the tasks that depend on it run), e.g. '- **gate**: true'; found '${task.raw.gate}'`),
};

const gateHasVerdict: TaskRule = {
  name: 'a gate is a shell, generate or parse task',
  check: (task) =>
    !isGate(task) || task.type === 'shell' || task.type === 'generate' || task.type === 'parse'
      ? []
      : one(fieldLine(task, 'gate'), `task '${task.name}': a ${task.type} task writes no result, so it cannot give a gate's verdict; make a shell, generate or parse task the gate`),
};

const gateNotForeach: TaskRule = {
  name: 'a gate is not a foreach template',
  check: (task) =>
    !isGate(task) || task.raw.foreach === undefined
      ? []
      : one(fieldLine(task, 'gate'), `task '${task.name}': a foreach template has no result of its own, so it cannot be a gate; put the gate on a task before it (the foreach depends on the gate)`),
};

/** A parse gate's answer is its verdict: the schema must ask for proceed, a boolean. */
const parseGateSchema: TaskRule = {
  name: "a parse gate's output_schema asks for proceed",
  check: (task) => {
    if (!isGate(task) || task.type !== 'parse' || task.output_schema === null) return [];
    const props = task.output_schema.properties as Record<string, { type?: unknown }> | undefined;
    if (props?.proceed?.type === 'boolean') return [];
    return one(fieldLine(task, 'output_schema'), `task '${task.name}': a parse gate's answer is its verdict, so its output_schema must have a boolean proceed, e.g. \`{"type": "object", "properties": {"proceed": {"type": "boolean"}, "reason": {"type": "string"}}, "required": ["proceed"]}\``);
  },
};

/** Checked for each task after the other task rules. */
export const GATE_RULES: readonly TaskRule[] = [gateBoolean, gateHasVerdict, gateNotForeach, parseGateSchema];
