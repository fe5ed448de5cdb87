// metrics/brain.prom: written whole every WRITE_EVERY_MS; metrics/ is made once, and again when a write finds it gone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BrainMetrics, WRITE_EVERY_MS } from '../../agents/brain/metrics.ts';
import { tempMount } from '../helpers/mount.ts';

test('BrainMetrics: writes at most every WRITE_EVERY_MS, and makes metrics/ again when it was removed', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const m = new BrainMetrics(paths);
    const file = join(paths.metrics, 'brain.prom');
    await m.maybeWrite(new Map(), new Map(), 0);
    assert.match(await readFile(file, 'utf8'), /^# HELP forge_tasks /);
    await rm(paths.metrics, { recursive: true });
    await m.maybeWrite(new Map(), new Map(), WRITE_EVERY_MS - 1);
    assert.equal(await readFile(file, 'utf8').catch(() => null), null, 'not yet due');
    await m.maybeWrite(new Map(), new Map(), WRITE_EVERY_MS);
    assert.match(await readFile(file, 'utf8'), /^# HELP forge_tasks /, 'the folder made again');
  } finally {
    await cleanup();
  }
});
