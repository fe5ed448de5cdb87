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
import { posix } from 'node:path';
import type { ExecutorPolicy } from '../core/config.ts';
import { parseShellScript, type Redirect, type ScriptItem } from './shellRead.ts';

export type Verdict = 'ALLOWED' | 'BLOCKED' | 'NEEDS_APPROVAL';

export interface PolicyContext {
  policy: ExecutorPolicy;
  /** The task's working directory (absolute): relative paths resolve against it. */
  cwd: string;
  /** The batch folder (absolute): the only place recursive deletion is allowed. */
  batchPath: string;
  /** A person approved this task: lifts NEEDS_APPROVAL, never BLOCKED. */
  approved: boolean;
}

export interface PolicyDecision {
  verdict: Verdict;
  reason: string;
}

/**
 * Variables that choose which GPU a process sees. The GPU agent sets them for the worker;
 * a plan that sets, unsets or clears them would run on a card the agent did not reserve.
 */
export const GPU_SELECTION_VARS = [
  'CUDA_VISIBLE_DEVICES',
  'CUDA_DEVICE_ORDER',
  'NVIDIA_VISIBLE_DEVICES',
  'GPU_DEVICE_ORDINAL',
  'HIP_VISIBLE_DEVICES',
  'ROCR_VISIBLE_DEVICES',
] as const;

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'yash', 'posh', 'fish', 'csh', 'tcsh']);

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

/** Shell words that come before a command without being one. */
const SHELL_PREFIX_WORDS = new Set(['!', '{', '}', 'then', 'do', 'else', 'if', 'elif', 'while', 'until', 'time', 'fi', 'done', 'esac']);
/** Shell statements whose words are not a command (for x in ...; case x in ...). */
const SHELL_NON_COMMANDS = new Set(['for', 'case', 'select', 'function', 'in']);
const SHELL_DECLARATIONS = new Set(['export', 'declare', 'typeset', 'local', 'readonly', 'unset']);

/** Commands that write to every path operand they get. */
const WRITES_EVERY_OPERAND = new Set([
  'tee', 'touch', 'mkdir', 'rmdir', 'rm', 'chmod', 'chown', 'chgrp', 'truncate', 'mv', 'unlink', 'shred',
  'mkfifo', 'mknod', 'chattr', 'setfacl',
]);
/** Commands that write only to their destination: -t DIR, else the last operand (with two or more). */
const WRITES_DESTINATION: Record<string, string[]> = {
  cp: ['-S', '--suffix', '-t', '--target-directory'],
  ln: ['-S', '--suffix', '-t', '--target-directory'],
  install: ['-S', '--suffix', '-t', '--target-directory', '-m', '--mode', '-o', '--owner', '-g', '--group'],
};
/** Writing to these is harmless even though they sit under /dev or /proc. */
const HARMLESS_DEVICES = /^\/(dev\/(null|zero|stdout|stderr|stdin|tty|fd\/[0-9]+)|proc\/self\/fd\/[0-9]+)$/;
const WRITE_REDIRECTS = new Set(['>', '>>', '>|', '&>', '&>>', '<>', '>&']);
const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)(\+?=)/;

/** One command to inspect, with what is known about where it runs. */
interface Command {
  words: string[];
  redirects: Redirect[];
  /** Came from a shell script: `$`, `~`, globs and braces in its words may expand. */
  shell: boolean;
  /** Directories it may run in (more than one after an unsure `cd`); null: unknown. */
  cwds: Array<string | null>;
  /** Where it was found, for the reason: 'bash -c', 'eval', 'find -exec'; null at the top. */
  via: string | null;
  /** Runs under xargs: more operands arrive on its input. */
  stdinOperands: boolean;
  depth: number;
}

interface Finding {
  verdict: 'BLOCKED' | 'NEEDS_APPROVAL';
  reason: string;
  word: string;
}

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

function inspect(cmd: Command, ctx: PolicyContext, out: Finding[]): void {
  const block = (reason: string, word: string) => out.push({ verdict: 'BLOCKED', reason: where(reason, cmd), word });
  if (cmd.depth > MAX_DEPTH) {
    block(`blocked: commands nested more than ${MAX_DEPTH} levels deep cannot be checked`, '');
    return;
  }
  for (const r of cmd.redirects) checkRedirect(r, cmd, ctx, block);

  // Leading shell keywords and VAR=value prefixes are not the command.
  let words = cmd.words;
  if (cmd.shell) {
    while (words.length > 0) {
      const w = words[0]!;
      if (SHELL_PREFIX_WORDS.has(w)) words = words.slice(1);
      else if (ASSIGNMENT.test(w)) {
        checkAssignment(w, block);
        words = words.slice(1);
      } else break;
    }
    if (words.length === 0 || SHELL_NON_COMMANDS.has(words[0]!)) return;
  }
  if (words.length === 0) return;
  const name = posix.basename(words[0]!);
  const args = words.slice(1);
  const sub = (w: string[], extra: Partial<Command> = {}) =>
    inspect({ ...cmd, words: w, redirects: [], depth: cmd.depth + 1, ...extra }, ctx, out);

  checkName(name, ctx.policy, cmd, out);

  if (cmd.shell && SHELL_DECLARATIONS.has(name)) {
    for (const a of args) {
      const varName = a.split('=')[0]!;
      if ((GPU_SELECTION_VARS as readonly string[]).includes(varName)) {
        block(`blocked: "${name} ${a}" would change ${varName}; only the GPU agent chooses the GPU`, a);
      }
    }
    return;
  }
  if (name === 'env') {
    inspectEnv(args, cmd, block, sub);
    return;
  }
  const wrapper = WRAPPERS[name];
  if (wrapper) {
    const rest = skipOptions(args, wrapper.valueOpts).slice(wrapper.positionals);
    if (rest.length > 0) sub(rest, name === 'xargs' ? { stdinOperands: true } : {});
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

function where(reason: string, cmd: Command): string {
  return cmd.via === null ? reason : `${reason}, inside "${cmd.via}"`;
}

/** The names a command may be listed under: pip3.11 is pip3 and pip, mkfs.ext4 is mkfs. */
function nameCandidates(name: string): string[] {
  const stripped = name.replace(/[-_.]?[0-9][0-9.]*$/, '');
  return [...new Set([name, stripped, name.split('.')[0]!, stripped.replace(/[0-9]+$/, '')])].filter((n) => n !== '');
}

function checkName(name: string, policy: ExecutorPolicy, cmd: Command, out: Finding[]): void {
  const names = nameCandidates(name);
  const hit = (list: string[]) => names.find((n) => list.includes(n));
  const blocked = hit(policy.blocked_commands);
  if (blocked !== undefined) {
    out.push({ verdict: 'BLOCKED', word: name, reason: where(`blocked: "${name}" is a blocked command (executor.blocked_commands in config.json)`, cmd) });
    return;
  }
  const network = hit(policy.network_commands);
  if (network !== undefined) {
    out.push({ verdict: 'BLOCKED', word: name, reason: where(`blocked: "${name}" is a network tool (executor.network_commands in config.json)`, cmd) });
    return;
  }
  const approval = hit(policy.approval_commands);
  if (approval !== undefined) {
    out.push({
      verdict: 'NEEDS_APPROVAL',
      word: name,
      reason: where(`needs approval: "${name}" must be approved by a person first (executor.approval_commands in config.json)`, cmd),
    });
  }
}

function checkAssignment(word: string, block: (reason: string, word: string) => void): void {
  const name = ASSIGNMENT.exec(word)?.[1];
  if (name !== undefined && (GPU_SELECTION_VARS as readonly string[]).includes(name)) {
    block(`blocked: "${word}" would choose the GPU; only the GPU agent sets ${name}`, word);
  }
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

function inspectEnv(
  args: string[],
  cmd: Command,
  block: (reason: string, word: string) => void,
  sub: (w: string[], extra?: Partial<Command>) => void,
): void {
  let cwds = cmd.cwds;
  let i = 0;
  const unsets = (varName: string, shown: string) => {
    if ((GPU_SELECTION_VARS as readonly string[]).includes(varName)) {
      block(`blocked: "env ${shown}" would remove ${varName}, which only the GPU agent sets`, shown);
    }
  };
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      i += 1;
      break;
    }
    if (a === '-i' || a === '--ignore-environment' || a === '-') {
      block(`blocked: "env ${a}" would clear CUDA_VISIBLE_DEVICES, which only the GPU agent sets`, a);
    } else if (a === '-u' || a === '--unset') {
      unsets(args[i + 1] ?? '', `${a} ${args[i + 1] ?? ''}`);
      i += 1;
    } else if (a.startsWith('--unset=') || (a.startsWith('-u') && !a.startsWith('--'))) {
      unsets(a.startsWith('--') ? a.slice('--unset='.length) : a.slice(2), a);
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

function resolveDir(cwd: string | null, dir: string, shell: boolean): string | null {
  if (dir === '' || (shell && /[$`~*?[{]/.test(dir))) return null;
  if (posix.isAbsolute(dir)) return posix.normalize(dir);
  return cwd === null ? null : posix.resolve(cwd, dir);
}

/** The script of `sh -c SCRIPT`: the first operand once -c was among the options; null without -c. */
function shellCommandString(args: string[]): string | null {
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

function pythonModule(args: string[]): string | null {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-m') return args[i + 1] ?? null;
    if (/^-[A-Za-z]*m./.test(a) && !a.startsWith('--')) return a.slice(a.indexOf('m') + 1);
    if (a === '-c' || !a.startsWith('-')) return null;
  }
  return null;
}

function inspectScript(
  script: string,
  via: string,
  cmd: Command,
  ctx: PolicyContext,
  out: Finding[],
  block: (reason: string, word: string) => void,
): void {
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

function inspectFind(
  args: string[],
  cmd: Command,
  ctx: PolicyContext,
  block: (reason: string, word: string) => void,
  sub: (w: string[], extra?: Partial<Command>) => void,
): void {
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

function checkRecursiveRm(args: string[], cmd: Command, ctx: PolicyContext, block: (reason: string, word: string) => void): void {
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

function checkDeletion(
  label: string,
  operands: string[],
  cmd: Command,
  ctx: PolicyContext,
  block: (reason: string, word: string) => void,
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

/** Where a path operand points; null when that depends on shell expansion or an unknown directory. */
function resolveOperand(word: string, cwd: string | null, shell: boolean): string | null {
  if (shell && (/[$`]/.test(word) || word.startsWith('~') || /\{.*[,.].*\}/.test(word))) return null;
  if (posix.isAbsolute(word)) return posix.normalize(word).replace(/(.)\/$/, '$1');
  return cwd === null ? null : posix.resolve(cwd, word);
}

function isInside(path: string, folder: string): boolean {
  const base = folder.endsWith('/') ? folder : folder + '/';
  return path.startsWith(base);
}

function checkWrites(name: string, args: string[], cmd: Command, ctx: PolicyContext, block: (reason: string, word: string) => void): void {
  if (name === 'dd') {
    for (const a of args) if (a.startsWith('of=')) checkWritePath('dd', a.slice(3), cmd, ctx, block);
    return;
  }
  if (name === 'sed') {
    if (args.some((a) => a === '--in-place' || a.startsWith('--in-place=') || /^-[a-zA-Z]*i/.test(a))) {
      for (const a of args) if (!a.startsWith('-')) checkWritePath('sed -i', a, cmd, ctx, block);
    }
    return;
  }
  if (WRITES_EVERY_OPERAND.has(name)) {
    for (const a of skipOptionsEverywhere(args, [])) checkWritePath(name, a, cmd, ctx, block);
    return;
  }
  const valueOpts = WRITES_DESTINATION[name];
  if (!valueOpts) return;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-t' || a === '--target-directory') checkWritePath(name, args[i + 1] ?? '', cmd, ctx, block);
    if (a.startsWith('--target-directory=')) checkWritePath(name, a.slice('--target-directory='.length), cmd, ctx, block);
    if (a.startsWith('-t') && a.length > 2 && !a.startsWith('--')) checkWritePath(name, a.slice(2), cmd, ctx, block);
  }
  const operands = skipOptionsEverywhere(args, valueOpts);
  if (name === 'install' && args.some((a) => a === '-d' || a === '--directory')) {
    for (const a of operands) checkWritePath(name, a, cmd, ctx, block);
  } else if (operands.length >= 2) {
    checkWritePath(name, operands[operands.length - 1]!, cmd, ctx, block);
  }
}

/** Operands of a GNU-style command, whose options may come after operands. */
function skipOptionsEverywhere(args: string[], valueOpts: string[]): string[] {
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return [...operands, ...args.slice(i + 1)];
    if (a.startsWith('-') && a !== '-') {
      if (valueOpts.includes(a)) i += 1;
    } else operands.push(a);
  }
  return operands;
}

function checkWritePath(label: string, word: string, cmd: Command, ctx: PolicyContext, block: (reason: string, word: string) => void): void {
  for (const cwd of cmd.cwds) {
    const full = resolveOperand(word, cwd, false);
    const folder = full === null ? null : systemFolder(full, ctx);
    if (folder !== null) {
      block(`blocked: "${label}" would write to "${word}", inside the system folder ${folder} (executor.system_paths in config.json)`, word);
      return;
    }
  }
}

function checkRedirect(r: Redirect, cmd: Command, ctx: PolicyContext, block: (reason: string, word: string) => void): void {
  if (!WRITE_REDIRECTS.has(r.op)) return;
  if (r.op === '>&' && /^([0-9]+-?|-)$/.test(r.target)) return; // duplicates a descriptor
  for (const cwd of cmd.cwds) {
    const full = resolveOperand(r.target, cwd, false);
    const folder = full === null ? null : systemFolder(full, ctx);
    if (folder !== null) {
      block(`blocked: the redirection "${r.op} ${r.target}" would write inside the system folder ${folder} (executor.system_paths in config.json)`, r.target);
      return;
    }
  }
}

/** The configured system folder a path lies in; null when none, or when it is inside the batch folder. */
function systemFolder(path: string, ctx: PolicyContext): string | null {
  if (HARMLESS_DEVICES.test(path) || isInside(path, posix.resolve(ctx.batchPath))) return null;
  for (const sp of ctx.policy.system_paths) {
    const folder = posix.normalize(sp).replace(/(.)\/$/, '$1');
    if (path === folder || isInside(path, folder)) return folder;
  }
  return null;
}
