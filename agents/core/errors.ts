// Few error kinds, chosen by how the caller reacts.

/** A problem in a file a person wrote (plan, config, submission): print every line, exit 1. */
export class UserInputError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.problems = problems;
    this.name = 'UserInputError';
  }
}

export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Whether a file operation failed because the file (or a folder on its path) is not there:
 * ENOENT; ESTALE (another NFS client removed or replaced it under this one's handle); ENOTDIR
 * (a folder on the path was replaced by a file). Every reader treats the three alike: moved on.
 */
export function isGone(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ESTALE' || code === 'ENOTDIR';
}
