// plan.md's markdown → one mdast tree, at a cost that grows with the size of the text, not its
// square. Two things make remark slow on large or hostile input, and both are handled here:
// - Every list or block quote that ends rewrites the parser's whole list of events so far
//   (micromark's document tokenizer), so a plan of 8,000 tasks (a list each) took 24 s and
//   10,000 took minutes. The body is cut into pieces at lines where the markdown outside
//   cannot reach in (a heading, or a new block after a blank line, outside any fenced code or
//   HTML block), each piece is parsed alone and the trees are joined with their positions
//   moved back to where they are in the body. Cutting never guesses: a piece whose last block
//   is a code or HTML block that might run on into the next piece, or a body with reference
//   definitions (which reach across pieces), is parsed whole instead.
// - Nesting ('> > > ...' or lists in lists) costs the square of its depth; measureText finds the
//   deepest line cheaply, before remark sees the text, so the caller can refuse it.
import { remark } from 'remark';
import type { Code, Html, Nodes, Root, RootContent } from 'mdast';

/** Blocks nested on one line: '>' and list markers, and list levels implied by indentation. */
export function lineNesting(line: string): number {
  let depth = 0;
  let i = 0;
  let first = true;
  for (;;) {
    let width = 0;
    while (line[i] === ' ' || line[i] === '\t') width += line[i++] === '\t' ? 4 : 1;
    const c = line[i];
    let marker = 0; // characters of the marker at i
    if (c === '>') marker = 1;
    else if ((c === '-' || c === '+' || c === '*') && isSpaceOrEnd(line[i + 1])) marker = 1;
    else if (c !== undefined && c >= '0' && c <= '9') {
      let j = i;
      while (j - i < 9 && line[j]! >= '0' && line[j]! <= '9') j++;
      if ((line[j] === '.' || line[j] === ')') && isSpaceOrEnd(line[j + 1])) marker = j + 1 - i;
    }
    if (marker === 0) return depth;
    // A list nested by indentation opens one level per two columns before its marker.
    if (first) depth += Math.floor(width / 2);
    first = false;
    depth += 1;
    i += marker;
  }
}

function isSpaceOrEnd(c: string | undefined): boolean {
  return c === undefined || c === ' ' || c === '\t' || c === '\r';
}

export interface TextShape {
  /** Lines that look like ATX headings ('#' to '######'), wherever they are. */
  headings: number;
  /** The most deeply nested line and its depth (1-based line in the text given). */
  deepest: { depth: number; line: number };
}

/** One pass over the lines, before any parsing: what the limits are checked against. */
export function measureText(text: string): TextShape {
  let headings = 0;
  const deepest = { depth: 0, line: 1 };
  let line = 1;
  for (let start = 0; start <= text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const s = text.slice(start, end);
    if (ATX.test(s.trimStart()) && s.length - s.trimStart().length <= 3) headings++;
    const depth = lineNesting(s);
    if (depth > deepest.depth) [deepest.depth, deepest.line] = [depth, line];
    start = end + 1;
  }
  return { headings, deepest };
}

const ATX = /^#{1,6}(?:[ \t\r]|$)/;
const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const LIST_MARKER = /^(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)/;
/** HTML blocks that run past blank lines, each with the text that ends it (CommonMark kinds 1-5). */
const HTML_LONG: Array<[RegExp, RegExp]> = [
  [/^ {0,3}<(?:script|pre|style|textarea)(?:[ \t>\r]|$)/i, /<\/(?:script|pre|style|textarea)>/i],
  [/^ {0,3}<!--/, /-->/],
  [/^ {0,3}<\?/, /\?>/],
  [/^ {0,3}<![A-Za-z]/, />/],
  [/^ {0,3}<!\[CDATA\[/, /\]\]>/],
];
const DEFINITION = /^ {0,3}\[(?:[^\]\\\n]|\\.)+\]:/m;

function isBlank(line: string): boolean {
  return /^[ \t]*\r?$/.test(line);
}

function fenceCloses(line: string, open: { char: string; len: number }): boolean {
  const m = /^ {0,3}(`{3,}|~{3,})[ \t]*\r?$/.exec(line);
  return m !== null && m[1]![0] === open.char && m[1]!.length >= open.len;
}

type Mode = { kind: 'text' } | { kind: 'fence'; char: string; len: number } | { kind: 'html'; end: RegExp | null };

/**
 * Line numbers (0-based) where a piece may start: the markdown before such a line cannot
 * continue into it. Deliberately cautious: where it is unsure (an indented list marker, a line
 * that might be a lazy continuation) it does not cut, which only costs speed.
 */
export function cutLines(lines: string[]): number[] {
  const cuts: number[] = [];
  let mode: Mode = { kind: 'text' };
  let prevBlank = true;
  lines.forEach((line, i) => {
    const blank = isBlank(line);
    if (mode.kind === 'fence') {
      if (fenceCloses(line, mode)) mode = { kind: 'text' };
    } else if (mode.kind === 'html') {
      if (mode.end === null ? blank : mode.end.test(line)) mode = { kind: 'text' };
    } else if (!blank) {
      const atColumn0 = line[0] !== ' ' && line[0] !== '\t';
      // A heading always starts a block at the top level; after a blank line so does any
      // other line at column 0. List items are never cut before: whether one continues the
      // list above or starts a new one depends on more than this line.
      if (atColumn0 && i > 0 && (ATX.test(line) || (prevBlank && !LIST_MARKER.test(line)))) cuts.push(i);
      mode = openedBy(line);
    }
    prevBlank = blank;
  });
  return cuts;
}

/** The block a line opens that can run over later lines whatever they hold. */
function openedBy(line: string): Mode {
  const fence = FENCE_OPEN.exec(line);
  if (fence) {
    const marks = fence[1]!;
    // A backtick fence's info string holds no backtick; with one, the line is inline code.
    if (!(marks[0] === '`' && fence[2]!.includes('`'))) return { kind: 'fence', char: marks[0]!, len: marks.length };
  }
  if (/^ {0,3}</.test(line)) {
    for (const [open, end] of HTML_LONG) {
      if (open.test(line)) return end.test(line.replace(open, '')) ? { kind: 'text' } : { kind: 'html', end };
    }
    return { kind: 'html', end: null }; // other HTML blocks end at a blank line
  }
  return { kind: 'text' };
}

/**
 * True when the piece's last block might continue into the next piece in the whole text: a
 * fenced code or HTML block at the top level that is not closed (the next line, at column 0,
 * would be inside it), or one inside a list or quote that runs to the piece's end (the blank
 * lines after it would belong to it).
 */
function mayRunOn(tree: Root, piece: string): boolean {
  const top = tree.children.at(-1);
  if (top?.type === 'code' || top?.type === 'html') return !isClosed(top, piece, false);
  const contentEnd = piece.trimEnd().length;
  for (let n: Nodes | undefined = top; n && 'children' in n; ) {
    n = n.children.at(-1) as Nodes | undefined;
    if (n?.type === 'code') return !isClosed(n, piece, true);
    if (n?.type === 'html') return !isClosed(n, piece, true) || (n.position?.end.offset ?? 0) >= contentEnd;
  }
  return false;
}

/** Whether a code or HTML block ends with what closes it (inside a container, after its '>' and indentation). */
function isClosed(node: Code | Html, piece: string, nested: boolean): boolean {
  const source = piece.slice(node.position?.start.offset ?? 0, node.position?.end.offset ?? piece.length);
  const lines = source.split(/\r\n|\r|\n/);
  if (node.type === 'code') {
    const open = /^(?:[ \t>]*)(`{3,}|~{3,})/.exec(lines[0]!) ?? /^ {0,3}(`{3,}|~{3,})/.exec(lines[0]!);
    if (!open) return true; // indented code: the next piece's first line, at column 0, ends it
    const closer = nested ? lines.at(-1)!.replace(/^[ \t>]*/, '') : lines.at(-1)!;
    return lines.length >= 2 && fenceCloses(closer, { char: open[1]![0]!, len: open[1]!.length });
  }
  const long = HTML_LONG.find(([open]) => open.test(lines[0]!.replace(/^[ \t>]*/, '')));
  if (long) return long[1].test(source.replace(long[0], ''));
  // Other HTML blocks end at a blank line: closed only when one follows inside the piece (in
  // a container, the caller checks that it does not reach the piece's end instead).
  return nested || /^(?:\r\n|\r|\n)[ \t]*(?:\r\n|\r|\n|$)/.test(piece.slice(node.position?.end.offset ?? piece.length));
}

function shift(node: Nodes, lines: number, offset: number): void {
  const stack: Nodes[] = [node];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.position) {
      n.position.start.line += lines;
      n.position.end.line += lines;
      if (n.position.start.offset !== undefined) n.position.start.offset += offset;
      if (n.position.end.offset !== undefined) n.position.end.offset += offset;
    }
    if ('children' in n) stack.push(...(n.children as Nodes[]));
  }
}

/** Each line's text (without its ending) and where it starts; '\r\n', '\r' and '\n' end lines, as in CommonMark. */
function splitLines(text: string): { lines: string[]; starts: number[] } {
  const lines: string[] = [];
  const starts: number[] = [];
  const ending = /\r\n|\r|\n/g;
  let start = 0;
  for (let m = ending.exec(text); m; m = ending.exec(text)) {
    lines.push(text.slice(start, m.index));
    starts.push(start);
    start = m.index + m[0].length;
  }
  lines.push(text.slice(start));
  starts.push(start);
  return { lines, starts };
}

/**
 * Bytes a piece should have at least. Each parse has a fixed cost (remark combines its syntax
 * extensions and compiler every time), and a piece's cost grows with the square of the blocks
 * in it: pieces of a few KB (some 40 tasks) are cheapest.
 */
const PIECE_BYTES = 2 * 1024;

/** The cuts that start pieces of at least pieceBytes, with 0 first and the line count last. */
function groupCuts(cuts: number[], starts: number[], lineCount: number, pieceBytes: number): number[] {
  const bounds = [0];
  for (const cut of cuts) if (starts[cut]! - starts[bounds.at(-1)!]! >= pieceBytes) bounds.push(cut);
  bounds.push(lineCount);
  return bounds;
}

/** The body as remark parses it whole, built from pieces (see the top of this file); pieceBytes is for tests. */
export function parseMarkdown(body: string, pieceBytes = PIECE_BYTES): Root {
  const processor = remark();
  if (DEFINITION.test(body)) return processor.parse(body);
  const { lines, starts } = splitLines(body);
  const bounds = groupCuts(cutLines(lines), starts, lines.length, pieceBytes);
  const children: RootContent[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const from = bounds[k]!;
    const to = bounds[k + 1]!;
    const last = to === lines.length;
    // Without the ending of its last line: the piece's blocks end there, as they do in the
    // whole text before the line that starts the next piece.
    const piece = body.slice(starts[from], starts[to - 1]! + lines[to - 1]!.length);
    const tree = processor.parse(piece);
    if (!last && mayRunOn(tree, piece)) return processor.parse(body);
    for (const child of tree.children) {
      shift(child, from, starts[from]!);
      children.push(child);
    }
  }
  return { type: 'root', children, position: { start: { line: 1, column: 1, offset: 0 }, end: endOf(body, lines.length) } };
}

function endOf(text: string, lines: number): { line: number; column: number; offset: number } {
  const lastEnding = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
  return { line: lines, column: text.length - lastEnding, offset: text.length };
}
