// Commands that run other commands: wrappers (nice, timeout, xargs, ...), env, shells given
// `-c SCRIPT`, and find -exec. These find the inner command; the caller inspects it with
// every rule, one level deeper.
import { blockEnvClear, checkAssignment, checkEnvUnset } from './policyGpu.ts';
import { checkDeletion } from './policyDeletion.ts';
import { resolveDir } from './policyPaths.ts';
import type { Block, Command, InspectNested, PolicyContext } from './policyTypes.ts';
import { checkWritePath } from './policyWrites.ts';
import { ASSIGNMENT, parseShellScript } from './shellRead.ts';

export const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'yash', 'posh', 'fish', 'csh', 'tcsh']);

/** Commands that run the rest of their arguments as a command: options with a value, then fixed positionals. */
const WRAPPERS: Record<string, { valueOpts: string[]; positionals: number }> = {
  nice: { valueOpts: ['-n', '--adjustment'], positionals: 0 },
  timeout: { valueOpts: ['-s', '--signal', '-k', '--kill-after'], positionals: 1 },
  nohup: { valueOpts: [], positionals: 0 },
  xargs: {
    valueOpts: ['-a', '--arg-file', '-d', '--delimiter', '-E', '-I', '-L', '--max-lines', '-n', '--max-args',
      '-P', '--max-procs', '-s', '--max-chars', '--process-slot-var'],
    positionals: 0,
  },
  stdbuf: { valueOpts: ['-i', '-o', '-e', '--input', '--output', '--error'], positionals: 0 },
  ionice: { valueOpts: ['-c', '--class', '-n', '--classdata', '-p', '--pid', '-P', '--pgid', '-u', '--uid'], positionals: 0 },
  setsid: { valueOpts: [], positionals: 0 },
  time: { valueOpts: ['-f', '--format', '-o', '--output'], positionals: 0 },
  command: { valueOpts: [], positionals: 0 },
  builtin: { valueOpts: [], positionals: 0 },
  exec: { valueOpts: ['-a'], positionals: 0 },
  taskset: { valueOpts: [], positionals: 1 },
  busybox: { valueOpts: [], positionals: 0 },
  unbuffer: { valueOpts: [], positionals: 0 },
};

/** The command a wrapper runs (its words after options and fixed positionals); null when `name` is no wrapper. */
export function wrappedCommand(name: string, args: string[]): string[] | null {
  const wrapper = Object.hasOwn(WRAPPERS, name) ? WRAPPERS[name] : undefined;
  if (!wrapper) return null;
  return skipOptions(args, wrapper.valueOpts).slice(wrapper.positionals);
}

/** Drops a command's options (and their values); returns what follows them. */
function skipOptions(args: string[], valueOpts: string[]): string[] {
  let i = 0;
  while (i < args.length) {
    const a = args[i]!;
    if (a === '--') return args.slice(i + 1);
    if (!a.startsWith('-') || a === '-') break;
    if (valueOpts.includes(a)) i += 2;
    else i += 1;
  }
  return args.slice(i);
}

/** The script of `sh -c SCRIPT`: the first operand once -c was among the options; null without -c. */
export function shellCommandString(args: string[]): string | null {
  let hasC = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return hasC ? (args[i + 1] ?? null) : null;
    if (a === '-o' || a === '+o' || a === '-O' || a === '+O') {
      i += 1;
      continue;
    }
    if (a.startsWith('--')) continue;
    if ((a.startsWith('-') || a.startsWith('+')) && a.length > 1) {
      if (a.slice(1).includes('c')) hasC = true;
      continue;
    }
    return hasC ? a : null;
  }
  return null;
}

/**
 * env's options and VAR=value words, then the command it runs. Checks the GPU rule on the
 * way, follows -C into the directory, and reads -S's string as words.
 */
export function inspectEnv(args: string[], cmd: Command, block: Block, sub: InspectNested): void {
  let cwds = cmd.cwds;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      i += 1;
      break;
    }
    if (a === '-i' || a === '--ignore-environment' || a === '-') {
      blockEnvClear(a, block);
    } else if (a === '-u' || a === '--unset') {
      checkEnvUnset(args[i + 1] ?? '', `${a} ${args[i + 1] ?? ''}`, block);
      i += 1;
    } else if (a.startsWith('--unset=') || (a.startsWith('-u') && !a.startsWith('--'))) {
      checkEnvUnset(a.startsWith('--') ? a.slice('--unset='.length) : a.slice(2), a, block);
    } else if (a === '-C' || a === '--chdir') {
      cwds = cwds.map((c) => resolveDir(c, args[i + 1] ?? '', cmd.shell));
      i += 1;
    } else if (a.startsWith('--chdir=')) {
      cwds = cwds.map((c) => resolveDir(c, a.slice('--chdir='.length), cmd.shell));
    } else if (a === '-S' || a === '--split-string' || a.startsWith('-S') || a.startsWith('--split-string=')) {
      // env -S 'cmd args': the string is split into words (a small shell-like syntax).
      const text = a === '-S' || a === '--split-string' ? (args[(i += 1)] ?? '') : a.replace(/^(-S|--split-string=)/, '');
      const first = parseShellScript(text).find((it) => it.kind === 'cmd');
      sub([...(first?.kind === 'cmd' ? first.words : []), ...args.slice(i + 1)], { cwds });
      return;
    } else if (a.startsWith('-') && a !== '-') {
      continue;
    } else if (ASSIGNMENT.test(a)) {
      checkAssignment(a, block);
    } else break;
  }
  const rest = args.slice(i);
  if (rest.length > 0) sub(rest, { cwds });
}

/** find's starting points and expression: -delete and -fprint* are checked here, -exec's command is inspected. */
export function inspectFind(args: string[], cmd: Command, ctx: PolicyContext, block: Block, sub: InspectNested): void {
  let i = 0;
  while (i < args.length && /^-([HLP]|D|O[0-9]*)$/.test(args[i]!)) i += args[i] === '-D' ? 2 : 1;
  const starts: string[] = [];
  while (i < args.length && !/^[-(!)]/.test(args[i]!)) starts.push(args[i++]!);
  if (starts.length === 0) starts.push('.');
  const expression = args.slice(i);
  // find deletes below its starting points, so the batch folder itself may be one.
  if (expression.includes('-delete')) checkDeletion('find -delete', starts, cmd, ctx, block, true);
  for (let j = 0; j < expression.length; j++) {
    const e = expression[j]!;
    if (['-fprint', '-fprint0', '-fprintf', '-fls'].includes(e)) checkWritePath(`find ${e}`, expression[j + 1] ?? '', cmd, ctx, block);
    if (!['-exec', '-execdir', '-ok', '-okdir'].includes(e)) continue;
    let end = j + 1;
    while (end < expression.length && expression[end] !== ';' && expression[end] !== '+') end += 1;
    const inner = expression.slice(j + 1, end);
    // {} stands for each file found: below a starting point, so the starting point is what to check.
    for (const start of starts) {
      if (inner.length > 0) sub(inner.map((w) => w.split('{}').join(start)), { via: `find ${e}` });
    }
    j = end;
  }
}
