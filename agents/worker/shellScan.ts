// Scanners for the shell reader (shellRead.ts): each finds where a quoted or nested part of
// a script ends, or decodes one. Pure; they never run or expand anything.

export function indexOrEnd(src: string, needle: string, from: number): number {
  const at = src.indexOf(needle, from);
  return at === -1 ? src.length : at;
}

/** The redirection operator at src[i] (which is `<` or `>`), longest first. */
export function readRedirectOperator(src: string, i: number): string {
  for (const op of ['<<<', '<<-', '>>', '>|', '>&', '<<', '<&', '<>']) {
    if (src.startsWith(op, i)) return op;
  }
  return src[i]!;
}

/**
 * Reads a "double-quoted" part starting after the quote; returns the index after the closing
 * quote. Inside double quotes a backslash escapes only $ ` " \ and a newline (POSIX); the
 * substitutions inside still run, so they go to `substitution`.
 */
export function readDoubleQuoted(
  src: string,
  start: number,
  append: (text: string) => void,
  substitution: (inner: string) => void,
): number {
  let i = start;
  let text = '';
  while (i < src.length && src[i] !== '"') {
    const c = src[i]!;
    const d = src[i + 1];
    if (c === '\\' && d !== undefined && '$`"\\\n'.includes(d)) {
      if (d !== '\n') text += d;
      i += 2;
    } else if (c === '$' && d === '(') {
      const end = matchingParen(src, i + 1);
      substitution(src.slice(i + 2, end));
      text += src.slice(i, end + 1);
      i = end + 1;
    } else if (c === '`') {
      const end = closingBacktick(src, i + 1);
      substitution(src.slice(i + 1, end));
      text += src.slice(i, end + 1);
      i = end + 1;
    } else {
      text += c;
      i += 1;
    }
  }
  append(text);
  return i + 1;
}

/** Index of the `)` matching the `(` at openAt, skipping quoted text; src.length when unmatched. */
export function matchingParen(src: string, openAt: number): number {
  let depth = 0;
  for (let i = openAt; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') i += 1;
    else if (c === "'") i = indexOrEnd(src, "'", i + 1);
    else if (c === '"') {
      i += 1;
      while (i < src.length && src[i] !== '"') i += src[i] === '\\' ? 2 : 1;
    } else if (c === '(') depth += 1;
    else if (c === ')') {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  return src.length;
}

export function closingBacktick(src: string, from: number): number {
  for (let i = from; i < src.length; i++) {
    if (src[i] === '\\') i += 1;
    else if (src[i] === '`') return i;
  }
  return src.length;
}

export function closingAnsiQuote(src: string, from: number): number {
  for (let i = from; i < src.length; i++) {
    if (src[i] === '\\') i += 1;
    else if (src[i] === "'") return i;
  }
  return src.length;
}

const ANSI_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', v: '\v' };

/** bash's $'...' quoting: enough escapes that `$'\x63url'` reads as curl. */
export function decodeAnsiC(body: string): string {
  return body.replace(/\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|.)/gs, (_, esc: string) => {
    if (/^[xuU]/.test(esc) && esc.length > 1) return String.fromCodePoint(parseInt(esc.slice(1), 16));
    if (/^[0-7]+$/.test(esc)) return String.fromCharCode(parseInt(esc, 8));
    return ANSI_ESCAPES[esc] ?? esc;
  });
}

/** A here-document waiting for its body: the delimiter, `<<-` (strip tabs), and whether the body expands. */
export interface PendingHeredoc {
  delimiter: string;
  stripTabs: boolean;
  expands: boolean;
}

/**
 * Skips here-document bodies that start at `from`. A body whose delimiter was not quoted is
 * expanded by the shell, so its substitutions run: those are read as scripts.
 */
export function skipHeredocBodies(
  src: string,
  from: number,
  docs: PendingHeredoc[],
  substitution: (inner: string) => void,
): number {
  let i = from;
  for (const doc of docs) {
    let body = '';
    while (i < src.length) {
      const end = indexOrEnd(src, '\n', i);
      const line = src.slice(i, end);
      i = end + 1;
      if ((doc.stripTabs ? line.replace(/^\t+/, '') : line) === doc.delimiter) break;
      body += line + '\n';
    }
    if (doc.expands) readBodySubstitutions(body, substitution);
  }
  return Math.min(i, src.length);
}

/** The $(...) and backtick substitutions of an expanded here-document body. */
function readBodySubstitutions(body: string, substitution: (inner: string) => void): void {
  for (let j = 0; j < body.length; j++) {
    if (body[j] === '\\') j += 1;
    else if (body[j] === '$' && body[j + 1] === '(') {
      const end = matchingParen(body, j + 1);
      substitution(body.slice(j + 2, end));
      j = end;
    } else if (body[j] === '`') {
      const end = closingBacktick(body, j + 1);
      substitution(body.slice(j + 1, end));
      j = end;
    }
  }
}
