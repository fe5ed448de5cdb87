// readMountFile: the mount's one reader refuses what is not a regular file of a sane size, at
// once and with a reason, instead of hanging (a FIFO), never ending (/dev/zero) or throwing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { readMountFile } from '../../agents/core/mountRead.ts';

test('readMountFile: regular files read; FIFOs, devices, symlinks, directories, big and missing files refused with a reason', { timeout: 10_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'forge-mountread-'));
  try {
    await writeFile(join(dir, 'ok.json'), '{"a":1}\n');
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    await symlink('/dev/zero', join(dir, 'zero'));
    await symlink(join(dir, 'ok.json'), join(dir, 'link'));
    await mkdir(join(dir, 'dir'));
    await writeFile(join(dir, 'big'), Buffer.alloc(4096));
    const read = (name: string, follow = false) => readMountFile(join(dir, name), { maxBytes: 1000, followSymlinks: follow });
    assert.deepEqual(await read('ok.json'), { ok: true, text: '{"a":1}\n', size: 8 });
    const cases: Array<[string, boolean, string, RegExp]> = [
      ['fifo', false, 'not_a_file', /is a FIFO, not a regular file/],
      ['zero', false, 'not_a_file', /is a symlink/],
      ['zero', true, 'not_a_file', /is a character device/],
      ['link', false, 'not_a_file', /is a symlink/],
      ['dir', false, 'not_a_file', /is a directory/],
      ['big', false, 'too_big', /4096 bytes, over the limit of 1000/],
      ['nope', false, 'missing', /does not exist/],
    ];
    for (const [name, follow, why, detail] of cases) {
      const r = await read(name, follow);
      assert.equal(r.ok, false, name);
      if (!r.ok) {
        assert.equal(r.why, why, name);
        assert.match(r.detail, detail, name);
      }
    }
    assert.equal((await read('link', true)).ok, true, 'a symlink to a regular file is read when allowed');
    if (process.getuid?.() !== 0) {
      await chmod(join(dir, 'ok.json'), 0o000);
      assert.equal((await read('ok.json')).ok, false);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
