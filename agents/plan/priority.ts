// A plan's priority: front matter `priority:`, 1 (highest) to 5 (lowest), default 3. A
// submission's own (forge submit --priority) wins over it. The order it gives: core/fairOrder.ts.
import { PRIORITY_DEFAULT, PRIORITY_HIGHEST, PRIORITY_LOWEST } from '../core/fairOrder.ts';
import type { PlanRule } from './ruleContext.ts';

/** The priority the front matter gives (the default when it gives none or a wrong one: the rule reports that). */
export function planPriority(front: Record<string, unknown>): number {
  const p = front.priority;
  return typeof p === 'number' && Number.isInteger(p) && p >= PRIORITY_HIGHEST && p <= PRIORITY_LOWEST ? p : PRIORITY_DEFAULT;
}

export const PRIORITY_RULE: PlanRule = {
  name: 'the priority is a whole number from 1 to 5',
  check: (plan) => {
    const p = plan.frontMatter.priority;
    if (p === undefined || p === null) return [];
    if (typeof p === 'number' && Number.isInteger(p) && p >= PRIORITY_HIGHEST && p <= PRIORITY_LOWEST) return [];
    return [{ line: plan.frontMatterLines?.priority ?? 1, message: `front matter priority: expected a whole number from ${PRIORITY_HIGHEST} (highest) to ${PRIORITY_LOWEST} (lowest), e.g. 'priority: 2'; found ${JSON.stringify(p)}` }];
  },
};
