import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ASSIGNMENT, parseShellScript, ScriptTooDeepError, type ScriptItem } from '../../agents/worker/shellRead.ts';
import {
  closingBacktick,
  decodeAnsiC,
  matchingParen,
  readRedirectOperator,
} from '../../agents/worker/shellScan.ts';

describe('parseShellScript', () => {
  const commands = (src: string) =>
    parseShellScript(src).flatMap((i) => (i.kind === 'cmd' ? [{ words: i.words, redirects: i.redirects, next: i.next }] : []));

  it('splits on ; && || | & and newlines, and removes quotes', () => {
    assert.deepEqual(commands(`a 'b c' "d\\"e";f&&g||h|i & j\nk`).map((c) => [c.words, c.next]), [
      [['a', 'b c', 'd"e'], ';'],
      [['f'], '&&'],
      [['g'], '||'],
      [['h'], '|'],
      [['i'], '&'],
      [['j'], '\n'],
      [['k'], ''],
    ]);
  });

  it('reads redirections with and without spaces', () => {
    assert.deepEqual(commands('echo hi>/a 2>> /b &>/c <in >&2').map((c) => c.redirects), [
      [
        { op: '>', target: '/a' },
        { op: '>>', target: '/b' },
        { op: '&>', target: '/c' },
        { op: '<', target: 'in' },
        { op: '>&', target: '2' },
      ],
    ]);
  });

  it('reads command substitutions as commands of their own', () => {
    assert.deepEqual(
      commands('echo "$(a 1)" `b 2` <(c 3)').map((c) => c.words[0]),
      ['a', 'b', 'c', 'echo'],
    );
  });

  it('skips comments', () => {
    assert.deepEqual(commands('# curl x\necho a # wget').map((c) => c.words), [['echo', 'a']]);
  });

  it('reads words the way a shell would, quotes and escapes removed', () => {
    const table: Array<[string, string[]]> = [
      [`$'\\x63url' $'a\\tb' $'\\101' $'\\u00e9'`, ['curl', 'a\tb', 'A', '\u00e9']],
      ['ec\\\nho hi', ['echo', 'hi']],
      ['a\\ b', ['a b']],
      ['a#b #c', ['a#b']],
      ['"a\\nb" "\\$x"', ['a\\nb', '$x']],
      [`'' ""`, ['', '']],
      ['x"y"\'z\'', ['xyz']],
      ['a {b,c} $HOME ~', ['a', '{b,c}', '$HOME', '~']],
    ];
    for (const [src, words] of table) assert.deepEqual(commands(src).map((c) => c.words), [words], src);
  });

  it('ends commands at |& and ;; and keeps &>> as a redirection', () => {
    assert.deepEqual(commands('a |& b;; c &>>/log').map((c) => [c.words, c.next, c.redirects]), [
      [['a'], '|&', []],
      [['b'], ';', []],
      [['c'], '', [{ op: '&>>', target: '/log' }]],
    ]);
  });

  it('drops a digits-only word before a redirection as its descriptor, but not a quoted one', () => {
    assert.deepEqual(commands(`echo 2>x '2'>y 12>>z`), [
      { words: ['echo', '2'], redirects: [{ op: '>', target: 'x' }, { op: '>', target: 'y' }, { op: '>>', target: 'z' }], next: '' },
    ]);
  });

  it('gives a redirection the script ends before an empty target', () => {
    assert.deepEqual(commands('a >; b <').map((c) => c.redirects), [[{ op: '>', target: '' }], [{ op: '<', target: '' }]]);
  });

  it('reads every redirection operator', () => {
    const table: Array<[string, string]> = [
      ['<<<', 'x <<< w'], ['<<-', 'x <<- w'], ['>>', 'x >> w'], ['>|', 'x >| w'], ['>&', 'x >& w'],
      ['<<', 'x << w'], ['<&', 'x <& w'], ['<>', 'x <> w'], ['<', 'x < w'], ['>', 'x > w'],
    ];
    for (const [op, src] of table) assert.deepEqual(commands(src)[0]!.redirects, [{ op, target: 'w' }], src);
  });

  it('marks subshells and substitutions with push and pop', () => {
    const kinds = (items: ScriptItem[]) => items.map((i) => (i.kind === 'cmd' ? i.words.join(' ') : i.kind));
    assert.deepEqual(kinds(parseShellScript('(cd /x && a); b')), ['push', 'cd /x', 'a', 'pop', 'b']);
    assert.deepEqual(kinds(parseShellScript('a >(tee /etc/x)')), ['push', 'tee /etc/x', 'pop', 'a >(tee /etc/x)']);
    // A substitution runs before the command it is part of, so its commands come first.
    assert.deepEqual(kinds(parseShellScript('echo "$(a "$(b)")"')), ['push', 'push', 'b', 'pop', 'a $(b)', 'pop', 'echo $(a "$(b)")']);
  });

  it('skips here-document bodies, reading the substitutions of an unquoted delimiter\'s body', () => {
    const table: Array<[string, string[][]]> = [
      ['cat <<EOF\n$(curl x)\nEOF\necho done', [['cat'], ['curl', 'x'], ['echo', 'done']]],
      ["cat <<'EOF'\n$(curl x)\n`wget y`\nEOF", [['cat']]],
      ['cat <<EOF\n`wget y` \\$(not)\nEOF', [['cat'], ['wget', 'y']]],
      ['cat <<-EOF\n\tbody\n\tEOF\necho a', [['cat'], ['echo', 'a']]],
      ['cat <<EOF\n\tbody\n\tEOF\necho a', [['cat']]],
      ['cat <<A <<B\na\nA\n$(b)\nB\nc', [['cat'], ['b'], ['c']]],
    ];
    for (const [src, want] of table) assert.deepEqual(commands(src).map((c) => c.words), want, src);
    assert.deepEqual(commands("cat <<'EOF'\nx\nEOF")[0]!.redirects, [{ op: '<<', target: 'EOF' }]);
  });

  it('refuses substitutions nested more than 8 levels deep, and reads 8', () => {
    const nest = (levels: number) => {
      let script = 'true';
      for (let i = 0; i < levels; i++) script = `echo $(${script})`;
      return script;
    };
    assert.equal(parseShellScript(nest(8)).filter((i) => i.kind === 'cmd').length, 9);
    assert.throws(() => parseShellScript(nest(9)), ScriptTooDeepError);
    assert.throws(() => parseShellScript('`a`', 8), /nested more than 8 levels deep/);
  });
});

describe('ASSIGNMENT', () => {
  it('matches NAME=value and NAME+=value only', () => {
    const table: Array<[string, string | null]> = [
      ['A=1', 'A'], ['_x9+=y', '_x9'], ['CUDA_VISIBLE_DEVICES=', 'CUDA_VISIBLE_DEVICES'],
      ['1A=1', null], ['=x', null], ['a-b=1', null], ['--opt=1', null], ['A', null],
    ];
    for (const [word, name] of table) assert.equal(ASSIGNMENT.exec(word)?.[1] ?? null, name, word);
  });
});

describe('shell scanners', () => {
  it('finds the parenthesis that closes, past quotes and escapes', () => {
    const table: Array<[string, number, number]> = [
      ['$(a)', 1, 3],
      ['$(a (b) c) d', 1, 9],
      [`$(a ")" ')' \\) b)`, 1, 16],
      ['$(a', 1, 3],
    ];
    for (const [src, open, close] of table) assert.equal(matchingParen(src, open), close, src);
  });

  it('finds the closing backtick past escaped ones', () => {
    assert.equal(closingBacktick('`a \\` b` c', 1), 7);
    assert.equal(closingBacktick('`a', 1), 2);
  });

  it('decodes $\'...\' escapes', () => {
    const table: Array<[string, string]> = [
      ['\\x63url', 'curl'], ['\\143url', 'curl'], ['\\u0063url', 'curl'], ['\\U00000063url', 'curl'],
      ['a\\nb\\tc', 'a\nb\tc'], ['\\e[0m', '\x1b[0m'], ["\\'", "'"], ['\\\\', '\\'], ['\\q', 'q'],
    ];
    for (const [body, want] of table) assert.equal(decodeAnsiC(body), want, body);
  });

  it('reads the longest redirection operator', () => {
    for (const op of ['<<<', '<<-', '>>', '>|', '>&', '<<', '<&', '<>', '<', '>']) {
      assert.equal(readRedirectOperator(`x${op}y`, 1), op);
    }
  });
});

