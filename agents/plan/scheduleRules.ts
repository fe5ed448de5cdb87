// The rules of a scheduled plan (front matter `schedule:`): the schedule reads (schedule.ts),
// and every input has a default, since the brain submits a scheduled run with no --config.
import type { PlanRule, Problem } from './ruleContext.ts';
import { readSchedule } from './schedule.ts';

const scheduleValid: PlanRule = {
  name: 'the schedule is a cron expression with a time zone',
  check: (plan) =>
    readSchedule(plan.frontMatter).problems.map(({ key, message }) => ({
      // A missing timezone has no line of its own: the schedule's line is where it belongs.
      line: plan.frontMatterLines?.[key] ?? plan.frontMatterLines?.schedule ?? 1,
      message,
    })),
};

const scheduledInputsHaveDefaults: PlanRule = {
  name: 'a scheduled plan gives every input a default',
  check: (plan) => {
    if (plan.frontMatter.schedule === undefined || plan.frontMatter.schedule === null) return [];
    return plan.inputs
      .filter((input) => input.default === null)
      .map(({ name, line }): Problem => ({
        line,
        message: `input '${name}' has no default, but the plan has a schedule: the brain submits a scheduled run with the defaults only; give it a default ('- **${name}**: value')`,
      }));
  },
};

export const SCHEDULE_RULES: readonly PlanRule[] = [scheduleValid, scheduledInputsHaveDefaults];
