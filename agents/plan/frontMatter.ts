// plan.md's front matter: YAML data between two '---' lines, never code. Pure: the text in,
// the body after it (with how many lines came before it) and any problem out.
import matter from 'gray-matter';

export interface FrontMatter {
  /** The markdown after the front matter (the whole text when there is none, or it is broken). */
  body: string;
  /** Lines before the body: added to body line numbers to give plan.md line numbers. */
  offset: number;
  data: Record<string, unknown>;
  /** `line` and message of what is wrong; none when the front matter is fine or absent. */
  problem: { line: number; message: string } | null;
  /** Set when the problem refuses the whole plan (front matter in a programming language). */
  stopped?: true;
}

/** gray-matter's engines that would run code, each replaced by one that refuses. */
const refuse = (): never => {
  throw new Error('front matter in a programming language is never evaluated; write it as YAML');
};
const CODE_ENGINES_REFUSED = Object.fromEntries(['js', 'javascript', 'coffee', 'coffeescript', 'cson'].map((n) => [n, { parse: refuse, stringify: refuse }]));

export function readFrontMatter(text: string): FrontMatter {
  const none: FrontMatter = { body: text, offset: 0, data: {}, problem: null };
  // Front matter is data: YAML only. gray-matter would evaluate '---js' (or '---javascript')
  // front matter as JavaScript, so any language after the opening '---' is refused before it
  // sees the text, and its code engines are replaced by ones that refuse, in case one slips by.
  const language = /^---[ \t]*([^\s-][^\n]*?)[ \t]*\r?\n/.exec(text)?.[1];
  if (language !== undefined && !/^ya?ml$/i.test(language)) {
    const message = `front matter must be YAML (lines of 'key: value' between two '---' lines); this one opens with '---${language.slice(0, 40)}', which is not read: nothing in it was run`;
    return { ...none, problem: { line: 1, message }, stopped: true };
  }
  try {
    // An options object keeps gray-matter from caching (and sharing) results by text.
    const fm = matter(text, { engines: CODE_ENGINES_REFUSED });
    // gray-matter hands back the body as a suffix of the text, so the lines before it are the
    // offset that turns body line numbers into plan.md line numbers.
    if (!text.endsWith(fm.content)) return none;
    const offset = text.slice(0, text.length - fm.content.length).split('\n').length - 1;
    return { body: fm.content, offset, data: { ...(fm.data as Record<string, unknown>) }, problem: null };
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    return { ...none, problem: { line: 1, message: `front matter is not valid YAML (${reason}); write it as lines of 'key: value' between two '---' lines, or remove it` } };
  }
}

/**
 * The plan.md line of each top-level key in the front matter (`key:` at the start of a line
 * among the first `offset` lines), for messages about one key. A key written twice keeps its first line.
 */
export function frontMatterKeyLines(text: string, offset: number): Record<string, number> {
  const lines: Record<string, number> = {};
  text.split('\n', offset).forEach((line, i) => {
    const key = /^([A-Za-z_][\w-]*)[ \t]*:/.exec(line)?.[1];
    if (key && !Object.prototype.hasOwnProperty.call(lines, key)) lines[key] = i + 1;
  });
  return lines;
}
