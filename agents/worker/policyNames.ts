// The listed-command rule: a command named in executor.blocked_commands or
// executor.network_commands is blocked; one in executor.approval_commands waits for a person.
// A command matches under any of its name's plain forms (pip3.11 is also pip3 and pip).
import type { ExecutorPolicy } from '../core/config.ts';
import { where, type Command, type Finding } from './policyTypes.ts';

/** The names a command may be listed under: pip3.11 is pip3 and pip, mkfs.ext4 is mkfs. */
export function nameCandidates(name: string): string[] {
  const stripped = name.replace(/[-_.]?[0-9][0-9.]*$/, '');
  return [...new Set([name, stripped, name.split('.')[0]!, stripped.replace(/[0-9]+$/, '')])].filter((n) => n !== '');
}

/** Checks a command name against the three lists, the first that matches deciding. */
export function checkName(name: string, policy: ExecutorPolicy, cmd: Command, out: Finding[]): void {
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

/** The module `python -m MODULE` runs (python -m pip is pip); null when it runs a file or -c code. */
export function pythonModule(args: string[]): string | null {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-m') return args[i + 1] ?? null;
    if (/^-[A-Za-z]*m./.test(a) && !a.startsWith('--')) return a.slice(a.indexOf('m') + 1);
    // Grouped flags ending in m (`-Im pip`): the module is the next argument. -W and -X take
    // the rest of their group as a value, so an m after them is that value.
    if (/^-[A-VYZa-z]*m$/.test(a)) return args[i + 1] ?? null;
    if (a === '-c' || !a.startsWith('-')) return null;
  }
  return null;
}
