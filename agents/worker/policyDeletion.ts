// The recursive-deletion rule: `rm -r` and `find -delete` may delete only inside the batch
// folder. A path that cannot be resolved before the command runs is blocked, since it could
// point anywhere.
import { posix } from 'node:path';
import { isInside, resolveOperand } from './policyPaths.ts';
import type { Block, Command, PolicyContext } from './policyTypes.ts';

export function checkRecursiveRm(args: string[], cmd: Command, ctx: PolicyContext, block: Block): void {
  let flag: string | null = null;
  const operands: string[] = [];
  let endOfOptions = false;
  for (const a of args) {
    if (!endOfOptions && a === '--') endOfOptions = true;
    else if (!endOfOptions && a.startsWith('--')) {
      if (a === '--recursive') flag ??= a;
    } else if (!endOfOptions && a.startsWith('-') && a.length > 1) {
      if (/[rR]/.test(a)) flag ??= a;
    } else operands.push(a);
  }
  if (flag === null) return;
  const label = `rm ${flag}`;
  if (cmd.stdinOperands) {
    block(
      `blocked: "${label}" under xargs deletes paths read from its input, which cannot be checked before it runs (recursive deletion is allowed only inside the batch folder ${ctx.batchPath})`,
      label,
    );
  }
  checkDeletion(label, operands, cmd, ctx, block);
}

/**
 * Each operand, in each directory the command may run in, must lie inside the batch folder
 * (or be the batch folder itself when batchItself: find deletes only below its start).
 * Reports the first operand that does not, once.
 */
export function checkDeletion(
  label: string,
  operands: string[],
  cmd: Command,
  ctx: PolicyContext,
  block: Block,
  batchItself = false,
): void {
  const batch = posix.resolve(ctx.batchPath);
  for (const op of operands) {
    for (const cwd of cmd.cwds) {
      const full = resolveOperand(op, cwd, cmd.shell);
      if (full === null) {
        block(
          `blocked: "${label}" would delete "${op}", which depends on the shell or the directory and cannot be checked (recursive deletion is allowed only inside the batch folder ${batch})`,
          op,
        );
        return;
      }
      if (!isInside(full, batch) && !(batchItself && full === batch)) {
        block(`blocked: "${label}" would delete "${op}" (${full}), outside the batch folder ${batch} (recursive deletion is allowed only inside it)`, op);
        return;
      }
    }
  }
}
