// A plan's command is split into an argument vector here, once, like a POSIX shell splits
// words, but with NO expansion of any kind: no variables, globs, ~, command substitution,
// pipes or redirects. The worker runs the vector without a shell, so whatever the command
// holds (and whatever a placeholder later puts into one argument) is never run as shell.
// Shell syntax that would mean something in a shell is refused instead of silently passed
// as text, so an author never gets a literal '|' where they meant a pipe.

export type TokenizeResult = { ok: true; argv: string[] } | { ok: false; error: string; column: number };

/** The documented way to use shell features: the script is fixed text, values are positional. */
export const SH_C_HINT = `write sh -c '... "$1" ...' sh {VALUE} instead (the script stays fixed text, each value is one positional argument)`;

const SPACE = new Set([' ', '\t']);
/** Characters that are operators to a shell when unquoted. */
const OPERATORS = new Set(['|', '&', ';', '<', '>', '(', ')', '`']);

function fail(error: string, index: number): TokenizeResult {
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

export function tokenizeCommand(cmd: string): TokenizeResult {
  const argv: string[] = [];
  let word = '';
  let inWord = false; // true once a word has started, so '' and "" make an empty argument
  let i = 0;
  const end = () => {
    if (inWord) argv.push(word);
    word = '';
    inWord = false;
  };
  while (i < cmd.length) {
    const c = cmd[i]!;
    if (SPACE.has(c)) {
      end();
      i++;
      continue;
    }
    if (c === '\n' || c === '\r') {
      return fail(`a line break ends a command in a shell; write the command on one line, or ${SH_C_HINT}`, i);
    }
    if (c === "'") {
      const close = cmd.indexOf("'", i + 1);
      if (close < 0) return fail(`single quote opened here is never closed; add the closing '`, i);
      word += cmd.slice(i + 1, close);
      inWord = true;
      i = close + 1;
      continue;
    }
    if (c === '"') {
      const open = i;
      i++;
      inWord = true;
      let closed = false;
      while (i < cmd.length) {
        const d = cmd[i]!;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\') {
          const n = cmd[i + 1];
          if (n === '"' || n === '\\' || n === '$' || n === '`') {
            word += n;
            i += 2;
            continue;
          }
          if (n === '\n') {
            i += 2; // line continuation, as in a shell
            continue;
          }
          word += d; // POSIX: a backslash before any other character stays
          i++;
          continue;
        }
        if (d === '`') {
          return fail(`'\`' inside double quotes would be command substitution in a shell, and it is not run here; escape it as \\\` to pass it literally, or ${SH_C_HINT}`, i);
        }
        if (d === '$' && startsExpansion(cmd[i + 1])) {
          return fail(`'$${cmd[i + 1]}' inside double quotes would be expanded by a shell, and nothing is expanded here; use a placeholder such as {NAME}, escape it as \\$ to pass it literally, or ${SH_C_HINT}`, i);
        }
        word += d;
        i++;
      }
      if (!closed) return fail(`double quote opened here is never closed; add the closing "`, open);
      continue;
    }
    if (c === '\\') {
      const n = cmd[i + 1];
      if (n === undefined) return fail(`the command ends with a backslash; remove it or quote it ('\\')`, i);
      if (n === '\n') {
        i += 2;
        continue;
      }
      word += n;
      inWord = true;
      i += 2;
      continue;
    }
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
    word += c;
    inWord = true;
    i++;
  }
  end();
  if (argv.length === 0) return fail('the command is empty; write the program and its arguments, e.g. `node scripts/run.mjs {BATCH_PATH}`', 0);
  const first = argv[0]!;
  if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(first)) {
    return fail(`'${first}' sets an environment variable in a shell, which is not done here; write env ${first} ... to run the program with it set`, 0);
  }
  return { ok: true, argv };
}
