// A plan is data. Front matter in a programming language ('---js', '---javascript', ...) would
// be evaluated by gray-matter: it is refused with a message, through `submit` (a real process)
// and through the parser, and no marker file from its code ever appears.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parsePlan } from '../../agents/plan/parse.ts';

const ROOT = join(import.meta.dirname, '../..');
const body = '# P\n\n## Goal\nx\n\n## Tasks\n\n### a\n- **task_class**: cpu\n- **command**: `true`\n';

const codeFrontMatter = (marker: string, lang: string) =>
  `---${lang}\n{ title: (require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran'), 'pwned') }\n---\n${body}`;

test('front matter in a code language is refused by the parser and never run', () => {
  const dir = join(tmpdir(), 'forge-attack-plan');
  const marker = join(dir, 'marker-parse');
  for (const lang of ['js', 'javascript', ' js', 'coffee', 'JS']) {
    const r = parsePlan(codeFrontMatter(marker, lang), join(dir, 'plan.md'), dir);
    assert.equal(existsSync(marker), false, `---${lang}: no code ran`);
    assert.match(r.problems.join('\n'), /plan\.md:1: front matter must be YAML/, `---${lang} is refused`);
  }
  // YAML front matter still works, and '---yaml' names it explicitly.
  for (const open of ['---', '---yaml']) {
    const r = parsePlan(`${open}\ntitle: T\n---\n${body}`, join(dir, 'plan.md'), dir);
    assert.deepEqual(r.problems, []);
    assert.equal(r.plan.title, 'T');
  }
});

test('submit of a plan with ---js front matter exits 1 with the reason; its code never runs', { timeout: 60_000 }, async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'forge-attack-'));
  try {
    const plan = join(tmp, 'evil');
    await mkdir(plan);
    const marker = join(tmp, 'marker-submit');
    await writeFile(join(plan, 'plan.md'), codeFrontMatter(marker, 'js'));
    const r = await execa(process.execPath, [join(ROOT, 'bin/forge'), 'submit', plan, '--shared', join(tmp, 'mount')], { cwd: ROOT, reject: false, timeout: 50_000 });
    assert.equal(r.exitCode, 1, String(r.stderr));
    assert.match(String(r.stderr), /plan\.md:1: front matter must be YAML/);
    assert.equal(existsSync(marker), false, 'no code ran inside submit');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
