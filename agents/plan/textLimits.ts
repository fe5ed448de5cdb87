// The limits checked on plan.md's text before gray-matter or remark see it: its size, the size
// of its front matter, how many headings it has and how deeply it nests. Each costs one pass
// over the text; a plan over any of them is refused without being parsed at all.
import { PLAN_LIMITS } from './limits.ts';
import { measureText } from './markdown.ts';

/** 12345 → '12,345': figures in messages are read by people. */
export function figure(n: number): string {
  return n.toLocaleString('en-US');
}

/** Bytes of the front matter ('---' to the closing '---', or to the end when it is never closed, as gray-matter reads it). */
function frontMatterBytes(text: string): number {
  if (!text.startsWith('---') || text[3] === '-') return 0;
  const close = text.indexOf('\n---', 3);
  return Buffer.byteLength(close < 0 ? text : text.slice(0, close), 'utf8');
}

/** Every limit on the text that is exceeded, as `file:line: message`; empty when the text may be parsed. */
export function textLimitProblems(text: string, file: string): string[] {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > PLAN_LIMITS.planBytes) {
    return [`${file}:1: plan.md is ${figure(bytes)} bytes, over the limit of ${figure(PLAN_LIMITS.planBytes)} bytes (2 MiB) for one plan; split the work into several plans, or move long text (prompts, data) into files the tasks read`];
  }
  const problems: string[] = [];
  const fm = frontMatterBytes(text);
  if (fm > PLAN_LIMITS.frontMatterBytes) {
    problems.push(`${file}:1: the front matter is ${figure(fm)} bytes, over the limit of ${figure(PLAN_LIMITS.frontMatterBytes)} bytes (64 KiB); keep it to a title and short notes (and close it with a '---' line)`);
  }
  const shape = measureText(text);
  if (shape.headings > PLAN_LIMITS.headings) {
    problems.push(`${file}:1: plan.md has ${figure(shape.headings)} headings, over the limit of ${figure(PLAN_LIMITS.headings)} (room for the ${figure(PLAN_LIMITS.tasks)} tasks a plan may hold, plus sections and groups); split the work into several plans, or use a foreach over a manifest`);
  }
  if (shape.deepest.depth > PLAN_LIMITS.nestingDepth) {
    problems.push(`${file}:${shape.deepest.line}: this line nests ${figure(shape.deepest.depth)} block quotes or lists ('>', '-', '1.', or indentation before them) in one another, over the limit of ${PLAN_LIMITS.nestingDepth}; a plan needs three or four levels at most (write a rule of dashes as '---', not '- - -')`);
  }
  return problems;
}
