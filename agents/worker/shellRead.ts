// A best-effort reader of the scripts tasks pass to `sh -c`: enough of POSIX sh and bash to
// find every simple command, its words (quotes removed) and its redirections. It never runs
// or expands anything: a word the shell would expand keeps its `$`, backtick or brace.
//
// Not the same contract as agents/plan/tokenize.ts, on purpose: tokenize splits a plan's
// command that runs WITHOUT a shell and refuses every piece of shell syntax, with a column;
// this reads a script a shell WILL run, so it must accept all of it and see what the shell
// will see ($'...', substitutions, here-documents), and it never refuses. They agree on
// POSIX quoting because both follow POSIX, not because one borrows the other.
import {
  closingAnsiQuote,
  closingBacktick,
  decodeAnsiC,
  indexOrEnd,
  matchingParen,
  readDoubleQuoted,
  readRedirectOperator,
  skipHeredocBodies,
  type PendingHeredoc,
} from './shellScan.ts';

export interface Redirect {
  /** The operator without its file descriptor: `>`, `>>`, `>|`, `&>`, `&>>`, `<>`, `>&`, `<`, ... */
  op: string;
  /** The word after the operator, quotes removed ('' when the script ended first). */
  target: string;
}

/**
 * The script as a flat list: simple commands in order, and push/pop around every part that
 * runs in a subshell (parentheses, `$(...)`, backticks, `<(...)`), so a reader that tracks
 * `cd` can restore the directory afterwards.
 */
export type ScriptItem =
  | {
      kind: 'cmd';
      words: string[];
      redirects: Redirect[];
      /** The operator that ends this command: `;`, `&&`, `||`, `|`, `&`, a newline, or '' at the end. */
      next: string;
    }
  | { kind: 'push' }
  | { kind: 'pop' };

/** A word that assigns a shell variable (NAME=value, NAME+=value); group 1 is the name. */
export const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)(\+?=)/;

/** Deeper nesting than this is reported instead of read (a script built to exhaust the reader). */
export const MAX_SCRIPT_DEPTH = 8;

export class ScriptTooDeepError extends Error {
  constructor() {
    super(`shell substitutions nested more than ${MAX_SCRIPT_DEPTH} levels deep`);
    this.name = 'ScriptTooDeepError';
  }
}

export function parseShellScript(src: string, depth = 0): ScriptItem[] {
  if (depth > MAX_SCRIPT_DEPTH) throw new ScriptTooDeepError();
  return new ScriptReader(src, depth).read();
}

/**
 * One pass over a script. Each step reads one token-sized piece at `i`: a quoted or
 * substituted part of a word, a blank or comment, a control operator, a redirection, or a
 * plain character. The order of the steps matters where they share a first character
 * (`<(` is a substitution before `<` is a redirection).
 */
class ScriptReader {
  private readonly items: ScriptItem[] = [];
  private words: string[] = [];
  private redirects: Redirect[] = [];
  /** The word being read; null between words (so '' is an empty word, e.g. from ""). */
  private word: string | null = null;
  private wordQuoted = false;
  /** A redirection operator waiting for its target word. */
  private pendingRedirect: string | null = null;
  /** `<<` or `<<-` while its delimiter is the pending target. */
  private heredocOp: string | null = null;
  /** Here-documents whose bodies start at the next newline. */
  private readonly heredocs: PendingHeredoc[] = [];
  private i = 0;
  private readonly src: string;
  /** How deeply this script is nested in substitutions of the one the policy was given. */
  private readonly depth: number;

  constructor(src: string, depth: number) {
    this.src = src;
    this.depth = depth;
  }

  read(): ScriptItem[] {
    while (this.i < this.src.length) {
      const c = this.src[this.i]!;
      const d = this.src[this.i + 1];
      if (this.readQuoted(c, d) || this.readBlank(c) || this.readControl(c, d) || this.readRedirect(c)) continue;
      this.append(c);
      this.i += 1;
    }
    this.endCommand('');
    return this.items;
  }

  /** Quoting, escapes and substitutions: parts of the current word. */
  private readQuoted(c: string, d: string | undefined): boolean {
    const src = this.src;
    const i = this.i;
    if (c === '\\') {
      if (d !== '\n') this.append(d ?? '');
      this.i += 2;
    } else if (c === "'") {
      const end = indexOrEnd(src, "'", i + 1);
      this.append(src.slice(i + 1, end));
      this.wordQuoted = true;
      this.i = end + 1;
    } else if (c === '$' && d === "'") {
      const end = closingAnsiQuote(src, i + 2);
      this.append(decodeAnsiC(src.slice(i + 2, end)));
      this.wordQuoted = true;
      this.i = end + 1;
    } else if (c === '"') {
      this.i = readDoubleQuoted(src, i + 1, this.append, this.substitution);
      this.wordQuoted = true;
    } else if ((c === '$' || c === '<' || c === '>') && d === '(') {
      // $(...) command substitution, <(...) and >(...) process substitution: the inner
      // script runs too. The word keeps the raw text, so it still reads as "expanded".
      const end = matchingParen(src, i + 1);
      this.substitution(src.slice(i + 2, end));
      this.append(src.slice(i, end + 1));
      this.i = end + 1;
    } else if (c === '`') {
      const end = closingBacktick(src, i + 1);
      this.substitution(src.slice(i + 1, end));
      this.append(src.slice(i, end + 1));
      this.i = end + 1;
    } else return false;
    return true;
  }

  /** Blanks end a word; `#` at the start of a word starts a comment to the end of the line. */
  private readBlank(c: string): boolean {
    if (c === ' ' || c === '\t' || c === '\r') {
      this.endWord();
      this.i += 1;
    } else if (c === '#' && this.word === null) {
      this.i = indexOrEnd(this.src, '\n', this.i);
    } else return false;
    return true;
  }

  /** Operators that end a command (`\n ; ;; && & | || |&`) and subshell parentheses; `&>` is a redirection. */
  private readControl(c: string, d: string | undefined): boolean {
    if (c === '\n') {
      this.endCommand('\n');
      this.i += 1;
      if (this.heredocs.length > 0) this.i = skipHeredocBodies(this.src, this.i, this.heredocs.splice(0), this.substitution);
    } else if (c === ';') {
      this.endCommand(';');
      this.i += d === ';' ? 2 : 1;
    } else if (c === '&' && d === '&') {
      this.endCommand('&&');
      this.i += 2;
    } else if (c === '&' && d === '>') {
      this.endWord();
      this.pendingRedirect = this.src[this.i + 2] === '>' ? '&>>' : '&>';
      this.i += this.pendingRedirect.length;
    } else if (c === '&') {
      this.endCommand('&');
      this.i += 1;
    } else if (c === '|') {
      const op = d === '|' ? '||' : d === '&' ? '|&' : '|';
      this.endCommand(op);
      this.i += op.length;
    } else if (c === '(' || c === ')') {
      this.endCommand(c);
      this.items.push({ kind: c === '(' ? 'push' : 'pop' });
      this.i += 1;
    } else return false;
    return true;
  }

  private readRedirect(c: string): boolean {
    if (c !== '<' && c !== '>') return false;
    // A word of digits right before the operator is its file descriptor (2>file).
    if (this.word !== null && /^[0-9]+$/.test(this.word) && !this.wordQuoted) this.word = null;
    else this.endWord();
    const op = readRedirectOperator(this.src, this.i);
    this.pendingRedirect = op;
    if (op === '<<' || op === '<<-') this.heredocOp = op;
    this.i += op.length;
    return true;
  }

  private readonly append = (text: string): void => {
    this.word = (this.word ?? '') + text;
  };

  /** The inner script of a substitution runs in a subshell: its commands, between push and pop. */
  private readonly substitution = (inner: string): void => {
    this.items.push({ kind: 'push' }, ...parseShellScript(inner, this.depth + 1), { kind: 'pop' });
  };

  private endWord(): void {
    if (this.word === null) return;
    if (this.pendingRedirect !== null) {
      this.redirects.push({ op: this.pendingRedirect, target: this.word });
      if (this.heredocOp !== null) {
        this.heredocs.push({ delimiter: this.word, stripTabs: this.heredocOp === '<<-', expands: !this.wordQuoted });
        this.heredocOp = null;
      }
      this.pendingRedirect = null;
    } else {
      this.words.push(this.word);
    }
    this.word = null;
    this.wordQuoted = false;
  }

  private endCommand(next: string): void {
    this.endWord();
    if (this.pendingRedirect !== null) {
      this.redirects.push({ op: this.pendingRedirect, target: '' });
      this.pendingRedirect = null;
      this.heredocOp = null;
    }
    if (this.words.length > 0 || this.redirects.length > 0) {
      this.items.push({ kind: 'cmd', words: this.words, redirects: this.redirects, next });
    }
    this.words = [];
    this.redirects = [];
  }
}
