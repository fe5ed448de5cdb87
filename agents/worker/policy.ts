// The executor policy: from a task's argv alone, decides whether it may run. Pure (no file
// system, no environment). The rules come only from config.json's `executor` section; a
// task can only be approved past approval_commands, never past a block.
//
// What it looks at, best effort: argv[0] (its basename), the commands inside wrappers
// (env, nice, timeout, xargs, nohup, ...), inside `sh|bash|... -c SCRIPT` and `eval`
// (every simple command of the script, including $(...) and backticks), and inside
// `find -exec`. What it cannot see: the contents of script files (`bash run.sh`,
// `python x.py`), code passed to other interpreters (`python -c`, `perl -e`), and paths
// that only exist after shell expansion, except that a recursive deletion of such a path
// is blocked because it cannot be checked.
//
// This file walks the command and its nested commands; each rule family has its module:
// policyNames (listed commands), policyGpu (GPU selection), policyDeletion (recursive
// deletion), policyWrites (system folders), policyNested (commands that run commands).
import { posix } from 'node:path';
import { checkRecursiveRm } from './policyDeletion.ts';
import { checkAssignment, checkDeclaration, SHELL_DECLARATIONS } from './policyGpu.ts';
import { checkName, pythonModule } from './policyNames.ts';
import { inspectEnv, inspectFind, shellCommandString, SHELLS, wrappedCommand } from './policyNested.ts';
import { resolveDir } from './policyPaths.ts';
import { where, type Block, type Command, type Finding, type PolicyContext, type PolicyDecision } from './policyTypes.ts';
import { checkRedirect, checkWrites } from './policyWrites.ts';
import { ASSIGNMENT, parseShellScript, type ScriptItem } from './shellRead.ts';

export type { PolicyContext, PolicyDecision, Verdict } from './policyTypes.ts';
/** The worker clears these before a task runs; the policy refuses a task that changes them. */
export { GPU_SELECTION_VARS } from './policyGpu.ts';

/** Shell words that come before a command without being one. */
const SHELL_PREFIX_WORDS = new Set(['!', '{', '}', 'then', 'do', 'else', 'if', 'elif', 'while', 'until', 'time', 'fi', 'done', 'esac']);
/** Shell statements whose words are not a command (for x in ...; case x in ...). */
const SHELL_NON_COMMANDS = new Set(['for', 'case', 'select', 'function', 'in']);

const MAX_DEPTH = 8;

export function checkPolicy(argv: string[], ctx: PolicyContext): PolicyDecision {
  if (argv.length === 0 || argv[0] === '') return { verdict: 'BLOCKED', reason: 'blocked: the command is empty' };
  const findings: Finding[] = [];
  inspect(
    { words: argv, redirects: [], shell: false, cwds: [ctx.cwd], via: null, stdinOperands: false, depth: 0 },
    ctx,
    findings,
  );
  const blocked = findings.find((f) => f.verdict === 'BLOCKED');
  if (blocked) return { verdict: 'BLOCKED', reason: blocked.reason };
  const approval = findings.find((f) => f.verdict === 'NEEDS_APPROVAL');
  if (!approval) return { verdict: 'ALLOWED', reason: 'allowed: no executor rule matched' };
  if (ctx.approved) {
    return { verdict: 'ALLOWED', reason: `allowed: "${approval.word}" was approved by a person (executor.approval_commands in config.json)` };
  }
  return { verdict: 'NEEDS_APPROVAL', reason: approval.reason };
}

/** Every rule on one command, then on the commands it runs (one level deeper each). */
function inspect(cmd: Command, ctx: PolicyContext, out: Finding[]): void {
  const block: Block = (reason, word) => out.push({ verdict: 'BLOCKED', reason: where(reason, cmd), word });
  if (cmd.depth > MAX_DEPTH) {
    block(`blocked: commands nested more than ${MAX_DEPTH} levels deep cannot be checked`, '');
    return;
  }
  for (const r of cmd.redirects) checkRedirect(r, cmd, ctx, block);
  const words = cmd.shell ? commandWords(cmd.words, block) : cmd.words;
  if (words.length === 0) return;
  const name = posix.basename(words[0]!);
  const args = words.slice(1);
  const sub = (w: string[], extra: Partial<Command> = {}) =>
    inspect({ ...cmd, words: w, redirects: [], depth: cmd.depth + 1, ...extra }, ctx, out);

  checkName(name, ctx.policy, cmd, out);

  if (cmd.shell && SHELL_DECLARATIONS.has(name)) {
    checkDeclaration(name, args, block);
    return;
  }
  if (name === 'env') {
    inspectEnv(args, cmd, block, sub);
    return;
  }
  const wrapped = wrappedCommand(name, args);
  if (wrapped !== null) {
    if (wrapped.length > 0) sub(wrapped, name === 'xargs' ? { stdinOperands: true } : {});
    return;
  }
  if (SHELLS.has(name)) {
    const script = shellCommandString(args);
    if (script !== null) inspectScript(script, `${name} -c`, cmd, ctx, out, block);
    return;
  }
  if (name === 'eval' && args.length > 0) {
    inspectScript(args.join(' '), 'eval', cmd, ctx, out, block);
    return;
  }
  if (/^python[0-9.]*$/.test(name)) {
    // python -m pip is pip.
    const module = pythonModule(args);
    if (module !== null) checkName(module, ctx.policy, cmd, out);
    return;
  }
  if (name === 'find') {
    inspectFind(args, cmd, ctx, block, sub);
    return;
  }
  if (name === 'rm') checkRecursiveRm(args, cmd, ctx, block);
  checkWrites(name, args, cmd, ctx, block);
}

/**
 * A shell command's words from its command name on: leading keywords (`if`, `then`, `!`)
 * and VAR=value prefixes are not the command (the GPU rule checks the prefixes). Empty when
 * nothing is left, or when the words belong to `for`, `case` and the like.
 */
function commandWords(all: string[], block: Block): string[] {
  let words = all;
  while (words.length > 0) {
    const w = words[0]!;
    if (SHELL_PREFIX_WORDS.has(w)) words = words.slice(1);
    else if (ASSIGNMENT.test(w)) {
      checkAssignment(w, block);
      words = words.slice(1);
    } else break;
  }
  if (words.length === 0 || SHELL_NON_COMMANDS.has(words[0]!)) return [];
  return words;
}

function inspectScript(script: string, via: string, cmd: Command, ctx: PolicyContext, out: Finding[], block: Block): void {
  let items: ScriptItem[];
  try {
    items = parseShellScript(script);
  } catch (err) {
    block(`blocked: the script of "${via}" cannot be checked: ${(err as Error).message}`, via);
    return;
  }
  // Track `cd` so relative paths resolve where they will run. A cd the next command does not
  // depend on (`cd x; rm -r y`: y is removed even when cd failed) leaves both directories possible.
  let cwds = cmd.cwds;
  const saved: Array<Array<string | null>> = [];
  for (const item of items) {
    if (item.kind === 'push') saved.push(cwds);
    else if (item.kind === 'pop') cwds = saved.pop() ?? cwds;
    else {
      inspect(
        { words: item.words, redirects: item.redirects, shell: true, cwds, via, stdinOperands: false, depth: cmd.depth + 1 },
        ctx,
        out,
      );
      const words = item.words.filter((w) => !ASSIGNMENT.test(w));
      if ((words[0] === 'cd' || words[0] === 'pushd') && item.next !== '|') {
        const target = words.slice(1).find((w) => !w.startsWith('-')) ?? '';
        const moved = cwds.map((c) => resolveDir(c, target, true));
        cwds = item.next === '&&' ? moved : [...new Set([...cwds, ...moved])];
      }
    }
  }
}
