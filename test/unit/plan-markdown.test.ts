// parseMarkdown parses plan.md in pieces for speed; it must give exactly the tree remark gives
// for the whole text (positions included), whatever the text holds. Checked on the repository's
// own markdown and on thousands of generated documents mixing the constructs that can reach
// across a cut (fences, HTML blocks, lists, quotes, lazy lines, line endings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { remark } from 'remark';
import { cutLines, lineNesting, measureText, parseMarkdown } from '../../agents/plan/markdown.ts';

const ROOT = join(import.meta.dirname, '../..');

const FRAGMENTS = [
  '# h', '## Tasks', '### t', '#x', '- a', '* b', '+ c', '1. d', '2) e', '  - n', ' - i', '   * j', '    code', '> q', '>',
  '> - x', '```', '```js', '~~~', '````', '``` a`b', '  ```', '<div>', '</div>', '<!--', '-->', '<pre>', '</pre>', '<?x', '?>',
  '<![CDATA[', ']]>', '<!X', 'para', 'lazy text', '', '', '', '---', '===', '- - -', '* * *', '\t- tab',
  '- **command**: `x`', '  more', '[a]', '- ```', '  # in', '<a href="x">', 'text <b>', '1.', '-', '*', '\r', 'x\r', '#\r',
  '> ```', '>     code', '  1. x', '- > q', '   ```', '    ```', '- <div>', '> <!--', '  <pre>', 'a\rb', '#\r# y', '1. ```',
  '   ~~~', '> # h', '  ~~~~', '```\r', '- # h', '10. x', '<script>', '</script>', '<div>x</div>', '<!-- x -->', '\t```', '>\t- x',
];

/** A small deterministic generator (mulberry32), so a failure names a reproducible document. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const tree = (root: ReturnType<typeof parseMarkdown>) => JSON.stringify(root.children);

test('parseMarkdown gives remark\'s tree for the repository\'s markdown, cut at every possible line', () => {
  const files = [
    ...readdirSync(join(ROOT, 'plans')).filter((d) => !d.endsWith('.md')).map((d) => join(ROOT, 'plans', d, 'plan.md')),
    join(ROOT, 'plans/PLAN_FORMAT.md'), join(ROOT, 'README.md'), join(ROOT, 'test/fixtures/plans/seed/plan.md'),
  ];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    assert.ok(cutLines(text.split('\n')).length > 0, `${file} has places to cut`);
    assert.equal(tree(parseMarkdown(text, 0)), tree(remark().parse(text)), file);
  }
});

test('parseMarkdown gives remark\'s tree for 4,000 generated documents', { timeout: 120_000 }, () => {
  const next = random(20261201);
  for (let i = 0; i < 4000; i++) {
    const lines = Array.from({ length: 1 + Math.floor(next() * 24) }, () => FRAGMENTS[Math.floor(next() * FRAGMENTS.length)]!);
    const text = lines.join('\n');
    assert.equal(tree(parseMarkdown(text, 0)), tree(remark().parse(text)), JSON.stringify(text));
  }
});

test('cutLines: never inside a fence or an HTML block, never before a list item', () => {
  const cuts = (text: string) => cutLines(text.split('\n'));
  assert.deepEqual(cuts('# a\ntext\n# b'), [2]);
  assert.deepEqual(cuts('```\n\n# comment\n```\n\n# b'), [5]);
  assert.deepEqual(cuts('<!--\n\n# x\n-->\n# b'), [4]);
  assert.deepEqual(cuts('<div>\n# x\n\n# b'), [3]);
  assert.deepEqual(cuts('- a\n\n- b\n\npara'), [4]);
  assert.deepEqual(cuts('    code\n\n    # x'), []);
});

test('lineNesting and measureText: quotes and lists nested on a line, and ATX headings', () => {
  const table: Array<[string, number]> = [
    ['plain', 0], ['> q', 1], ['> > > q', 3], ['>>>>', 4], ['- a', 1], ['- - - x', 3], ['1. > - x', 3], ['      - deep', 4],
    ['    code', 0], ['-no', 0], ['2024. year', 1], ['1234567890. x', 0], ['>'.repeat(50_000), 50_000],
  ];
  for (const [line, depth] of table) assert.equal(lineNesting(line), depth, line.slice(0, 20));
  assert.deepEqual(measureText('# a\n## b\n> > x\n#no\n   ### c\n    # code'), { headings: 3, deepest: { depth: 2, line: 3 } });
});
