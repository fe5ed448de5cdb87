// The system-folder rule: no command or redirection may write inside executor.system_paths,
// except under the batch folder and to harmless devices (/dev/null, a descriptor). Only
// paths that can be resolved are checked: this rule is a friendly refusal, the sandbox is
// what holds.
import { posix } from 'node:path';
import { isInside, resolveOperand } from './policyPaths.ts';
import type { Block, Command, PolicyContext } from './policyTypes.ts';
import type { Redirect } from './shellRead.ts';

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

/** The paths a known writing command (dd, sed -i, tee, cp, ...) writes to. */
export function checkWrites(name: string, args: string[], cmd: Command, ctx: PolicyContext, block: Block): void {
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
  const valueOpts = Object.hasOwn(WRITES_DESTINATION, name) ? WRITES_DESTINATION[name] : undefined;
  if (valueOpts) checkDestination(name, args, valueOpts, cmd, ctx, block);
}

/** cp, ln, install: the -t directory, else the last of two or more operands (every operand for install -d). */
function checkDestination(name: string, args: string[], valueOpts: string[], cmd: Command, ctx: PolicyContext, block: Block): void {
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

export function checkWritePath(label: string, word: string, cmd: Command, ctx: PolicyContext, block: Block): void {
  for (const cwd of cmd.cwds) {
    const full = resolveOperand(word, cwd, false);
    const folder = full === null ? null : systemFolder(full, ctx);
    if (folder !== null) {
      block(`blocked: "${label}" would write to "${word}", inside the system folder ${folder} (executor.system_paths in config.json)`, word);
      return;
    }
  }
}

export function checkRedirect(r: Redirect, cmd: Command, ctx: PolicyContext, block: Block): void {
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
