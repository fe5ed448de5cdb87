// The batch report end to end: the hello plan on a real brain and agents (simulated GPUs)
// leaves report.html beside summary.md, and headless Chromium (Debian's package) renders it
// with the timeline visible: the success bars' colour is found in the screenshot's pixels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { BAR_COLOURS } from '../../agents/report/renderReport.ts';
import { submitPlan, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { tempMount } from '../helpers/mount.ts';
import { countColour, decodePng } from '../helpers/png.ts';
import { startAgent, startBrain, stopAll, writeTestConfig } from '../helpers/rig.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ?? null;

function chromium(args: string[], profile: string) {
  return execa(CHROMIUM!, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${profile}`, ...args], {
    timeout: 60_000, env: { HOME: profile }, reject: false,
  });
}

test('hello plan: report.html beside summary.md, self-contained, and Chromium draws its timeline', async (t) => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  const profile = await mkdtemp(join(tmpdir(), 'forge-chromium-'));
  try {
    await writeTestConfig(paths, 2);
    procs.push(startBrain(paths), startAgent(paths, 0), startAgent(paths, 1));
    await waitForAgents(paths, [0, 1], 30_000);
    const batch = await submitPlan(paths.root, join(import.meta.dirname, '../../plans/hello'));
    const rec = await waitForBatchEnd(paths, batch, 120_000);
    assert.equal(rec.state, 'complete');
    assert.ok(existsSync(join(rec.batch_path, 'summary.md')));
    const report = join(rec.batch_path, 'report.html');
    const html = await readFile(report, 'utf8');
    for (const name of ['greet', 'count', 'report']) assert.ok(html.includes(`>${name}<`), `${name} listed`);
    assert.equal(html.split(`fill="${BAR_COLOURS.success}" class="bar"`).length - 1, 3, 'one success bar per task');
    assert.doesNotMatch(html, /\b(?:src|href)\s*=|url\(|@import|<script|<link/i, 'no external resource, no script');

    if (!CHROMIUM) {
      t.skip('chromium is not installed (apt-get install chromium): the rendering part is skipped');
      return;
    }
    const dom = await chromium(['--dump-dom', `file://${report}`], profile);
    assert.equal(dom.exitCode, 0, dom.stderr);
    for (const name of ['greet', 'count', 'report']) assert.match(dom.stdout, new RegExp(`<td>${name}</td>`), `the rendered DOM has ${name}`);
    assert.match(dom.stdout, /Timeline: every attempt per GPU/);

    const png = join(profile, 'report.png');
    const shot = await chromium([`--screenshot=${png}`, '--window-size=1200,900', `file://${report}`], profile);
    assert.ok(existsSync(png), `no screenshot: ${shot.stderr}`);
    const img = decodePng(await readFile(png));
    assert.equal(img.width, 1200);
    // The timeline is the page's first chart: near its top, above the telemetry.
    const bar = countColour(img, BAR_COLOURS.success, 60, 400);
    assert.ok(bar >= 3 * 4 * 15, `the timeline's bars show in the screenshot (${bar} pixels of ${BAR_COLOURS.success})`);
    if (process.env.FORGE_REPORT_SCREENSHOT) await execa('cp', [png, process.env.FORGE_REPORT_SCREENSHOT]);
  } finally {
    await stopAll(procs);
    await rm(profile, { recursive: true, force: true });
    await cleanup();
  }
});
