// Where a path in a command points, as far as can be known before it runs. A word the shell
// would expand ($, backtick, ~, braces), or a relative path in an unknown directory, has no
// answer (null): the rules that need one treat that as "cannot be checked".
import { posix } from 'node:path';

/** The directory after `cd DIR` (or env -C DIR) from cwd; null when unknown. */
export function resolveDir(cwd: string | null, dir: string, shell: boolean): string | null {
  if (dir === '' || (shell && /[$`~*?[{]/.test(dir))) return null;
  if (posix.isAbsolute(dir)) return posix.normalize(dir);
  return cwd === null ? null : posix.resolve(cwd, dir);
}

/** Where a path operand points; null when that depends on shell expansion or an unknown directory. */
export function resolveOperand(word: string, cwd: string | null, shell: boolean): string | null {
  if (shell && (/[$`]/.test(word) || word.startsWith('~') || /\{.*[,.].*\}/.test(word))) return null;
  if (posix.isAbsolute(word)) return posix.normalize(word).replace(/(.)\/$/, '$1');
  return cwd === null ? null : posix.resolve(cwd, word);
}

/** Strictly below folder (the folder itself is not inside). */
export function isInside(path: string, folder: string): boolean {
  const base = folder.endsWith('/') ? folder : folder + '/';
  return path.startsWith(base);
}
