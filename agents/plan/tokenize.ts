// A plan's command is split into an argument vector here, once, like a POSIX shell splits
// words, but with NO expansion of any kind: no variables, globs, ~, command substitution,
// pipes or redirects. The worker runs the vector without a shell, so whatever the command
// holds (and whatever a placeholder later puts into one argument) is never run as shell.
// Shell syntax that would mean something in a shell is refused instead of silently passed
// as text, so an author never gets a literal '|' where they meant a pipe.
//
// Not the worker's shell reader (agents/worker/shellRead.ts), on purpose, though both follow
// POSIX quoting: that one reads scripts a shell WILL run and must accept everything a shell
// does ($'...', substitutions, here-documents) to see the commands inside; this one defines
// what a plan may write where no shell runs, and refuses with a column. Sharing code would
// let a change to either contract move the other.

export type TokenizeResult = { ok: true; argv: string[] } | { ok: false; error: string; column: number };

/** The documented way to use shell features: the script is fixed text, values are positional. */
export const SH_C_HINT = `write sh -c '... "$1" ...' sh {VALUE} instead (the script stays fixed text, each value is one positional argument)`;

const SPACE = new Set([' ', '\t']);
/** Characters that are operators to a shell when unquoted. */
const OPERATORS = new Set(['|', '&', ';', '<', '>', '(', ')', '`']);

type Failure = Extract<TokenizeResult, { ok: false }>;

function fail(error: string, index: number): Failure {
  return { ok: false, error, column: index + 1 };
}

/** `$` followed by one of these is an expansion in a shell (variable, ${...}, $(...), $1, $?). */
function startsExpansion(next: string | undefined): boolean {
  return next !== undefined && /[A-Za-z_{(0-9@*#?!$-]/.test(next);
}

function operatorAt(cmd: string, i: number): string {
  const c = cmd[i] ?? '';
  const two = cmd.slice(i, i + 2);
  if (two === '||' || two === '&&' || two === '>>' || two === '<<' || two === '$(') return two;
  return c;
}

/** The words so far and the one being read. */
interface Words {
  argv: string[];
  word: string;
  /** True once a word has started, so '' and "" make an empty argument. */
  inWord: boolean;
}

/** The index after what a step read, or why the command is refused. */
type Step = number | Failure;

export function tokenizeCommand(cmd: string): TokenizeResult {
  const w: Words = { argv: [], word: '', inWord: false };
  let i = 0;
  while (i < cmd.length) {
    const next = readAt(cmd, i, w);
    if (typeof next !== 'number') return next;
    i = next;
  }
  endWord(w);
  return checkArgv(w.argv);
}

function endWord(w: Words): void {
  if (w.inWord) w.argv.push(w.word);
  w.word = '';
  w.inWord = false;
}

/** One piece at cmd[i]: a blank, a quoted part, an escape, refused shell syntax, or a plain character. */
function readAt(cmd: string, i: number, w: Words): Step {
  const c = cmd[i]!;
  if (SPACE.has(c)) {
    endWord(w);
    return i + 1;
  }
  if (c === '\n' || c === '\r') {
    return fail(`a line break ends a command in a shell; write the command on one line, or ${SH_C_HINT}`, i);
  }
  if (c === "'") return readSingleQuoted(cmd, i, w);
  if (c === '"') return readDoubleQuoted(cmd, i, w);
  if (c === '\\') return readEscape(cmd, i, w);
  const refused = refuseUnquoted(cmd, i, w.inWord);
  if (refused) return refused;
  w.word += c;
  w.inWord = true;
  return i + 1;
}

/** '...': everything up to the next single quote, as it is. */
function readSingleQuoted(cmd: string, open: number, w: Words): Step {
  const close = cmd.indexOf("'", open + 1);
  if (close < 0) return fail(`single quote opened here is never closed; add the closing '`, open);
  w.word += cmd.slice(open + 1, close);
  w.inWord = true;
  return close + 1;
}

/**
 * "...": a backslash escapes only " \ $ ` and a newline (POSIX), any other backslash stays.
 * What a shell would expand inside is refused, since nothing is expanded here.
 */
function readDoubleQuoted(cmd: string, open: number, w: Words): Step {
  let i = open + 1;
  w.inWord = true;
  while (i < cmd.length) {
    const d = cmd[i]!;
    if (d === '"') return i + 1;
    if (d === '\\') {
      const n = cmd[i + 1];
      if (n === '"' || n === '\\' || n === '$' || n === '`') {
        w.word += n;
        i += 2;
      } else if (n === '\n') {
        i += 2; // line continuation, as in a shell
      } else {
        w.word += d; // POSIX: a backslash before any other character stays
        i++;
      }
      continue;
    }
    if (d === '`') {
      return fail(`'\`' inside double quotes would be command substitution in a shell, and it is not run here; escape it as \\\` to pass it literally, or ${SH_C_HINT}`, i);
    }
    if (d === '$' && startsExpansion(cmd[i + 1])) {
      return fail(`'$${cmd[i + 1]}' inside double quotes would be expanded by a shell, and nothing is expanded here; use a placeholder such as {NAME}, escape it as \\$ to pass it literally, or ${SH_C_HINT}`, i);
    }
    w.word += d;
    i++;
  }
  return fail(`double quote opened here is never closed; add the closing "`, open);
}

/** An unquoted backslash: the next character as it is; before a newline, a line continuation. */
function readEscape(cmd: string, i: number, w: Words): Step {
  const n = cmd[i + 1];
  if (n === undefined) return fail(`the command ends with a backslash; remove it or quote it ('\\')`, i);
  if (n === '\n') return i + 2;
  w.word += n;
  w.inWord = true;
  return i + 2;
}

/** Unquoted characters that mean something to a shell: refused, naming the way to do it. */
function refuseUnquoted(cmd: string, i: number, inWord: boolean): Failure | null {
  const c = cmd[i]!;
  if (c === '$' && startsExpansion(cmd[i + 1])) {
    const op = operatorAt(cmd, i);
    if (op === '$(') return fail(`unquoted '$(' is command substitution in a shell, and commands are not run by a shell here; ${SH_C_HINT}`, i);
    return fail(`unquoted '$${cmd[i + 1]}' would be expanded by a shell, and nothing is expanded here; use a placeholder such as {NAME}, quote it ('$...') to pass it literally, or ${SH_C_HINT}`, i);
  }
  if (OPERATORS.has(c)) {
    const op = operatorAt(cmd, i);
    return fail(`unquoted '${op}' is a shell operator, and commands are not run by a shell, so pipes, redirects, '&&' and ';' do not work here; ${SH_C_HINT}; to pass '${op}' as text, quote it`, i);
  }
  if (c === '*' || c === '?') {
    return fail(`unquoted '${c}' would be a glob in a shell, and nothing is expanded here; quote it to pass it literally, or ${SH_C_HINT}`, i);
  }
  if (!inWord && c === '#') {
    return fail(`'#' at the start of a word begins a comment in a shell; quote it ('#') to pass it literally, or remove the comment`, i);
  }
  if (!inWord && c === '~') {
    return fail(`'~' at the start of a word would be the home folder in a shell, and nothing is expanded here; write the path in full, or quote it to pass '~' literally`, i);
  }
  return null;
}

/** The whole vector: not empty, and not starting with a shell variable assignment. */
function checkArgv(argv: string[]): TokenizeResult {
  if (argv.length === 0) return fail('the command is empty; write the program and its arguments, e.g. `node scripts/run.mjs {BATCH_PATH}`', 0);
  const first = argv[0]!;
  if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(first)) {
    return fail(`'${first}' sets an environment variable in a shell, which is not done here; write env ${first} ... to run the program with it set`, 0);
  }
  return { ok: true, argv };
}
