// The systemd units a release ships (share/systemd/) pass `systemd-analyze verify` without a
// warning, installed where they point: /opt/forge/current and /srv/forge/shared become a
// temporary folder holding a real bin/forge, as an install with another prefix would write them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { projectRoot } from '../../agents/core/entry.ts';

const ANALYZE = '/usr/bin/systemd-analyze';
const UNITS = join(projectRoot, 'share', 'systemd');

/** The stop the launcher makes (agents/rig/supervisor.ts): agents, then servers, 10 s each before SIGKILL. */
const RIG_STOP_S = 2 * 10;

/** Writes `unit` under dir/units with its paths moved to dir; returns verify's exit code and the lines naming it. */
async function verify(dir: string, unit: string, text: string, instance = unit): Promise<{ exitCode: number | undefined; problems: string[] }> {
  const moved = text.replaceAll('/opt/forge/current', join(dir, 'release')).replaceAll('/srv/forge/shared', join(dir, 'shared'));
  await mkdir(join(dir, 'units'), { recursive: true });
  await writeFile(join(dir, 'units', unit), moved);
  const r = await execa(ANALYZE, ['verify', join(dir, 'units', instance)], { reject: false, env: { SYSTEMD_LOG_COLOR: '0' } });
  const stem = unit.replace(/@?\.service$/, '');
  const problems = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes(stem));
  return { exitCode: r.exitCode, problems };
}

async function withRelease(fn: (dir: string) => Promise<void>): Promise<void> {
  assert.ok(existsSync(ANALYZE), `${ANALYZE} is missing: install Debian's systemd package (apt-get install systemd), as .ci/run does`);
  const dir = await mkdtemp(join(tmpdir(), 'forge-units-'));
  try {
    await mkdir(join(dir, 'release', 'bin'), { recursive: true });
    await mkdir(join(dir, 'shared'));
    await writeFile(join(dir, 'release', 'bin', 'forge'), '#!/usr/bin/env node\n');
    await chmod(join(dir, 'release', 'bin', 'forge'), 0o755);
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('forge-rig.service and forge-rig@.service verify cleanly where their executable exists', async () => {
  await withRelease(async (dir) => {
    for (const [unit, instance] of [['forge-rig.service', 'forge-rig.service'], ['forge-rig@.service', 'forge-rig@0.service']] as const) {
      const text = await readFile(join(UNITS, unit), 'utf8');
      const r = await verify(dir, unit, text, instance);
      assert.deepEqual(r.problems, [], `${unit}: systemd-analyze verify warned`);
      assert.equal(r.exitCode, 0, `${unit}: systemd-analyze verify exit code`);
    }
  });
});

test('the verify catches a misspelled key and a missing executable', async () => {
  await withRelease(async (dir) => {
    const text = await readFile(join(UNITS, 'forge-rig.service'), 'utf8');
    const typo = await verify(dir, 'forge-rig.service', text.replace('KillMode=', 'KilMode='));
    assert.match(typo.problems.join('\n'), /Unknown key 'KilMode'/);
    await rm(join(dir, 'release', 'bin', 'forge'));
    const missing = await verify(dir, 'forge-rig.service', text);
    assert.notEqual(missing.exitCode, 0);
    assert.match(missing.problems.join('\n'), /not executable/);
  });
});

test("the rig's unit starts the release's launcher, signals only it, and waits out the rig's clean stop", async () => {
  const text = await readFile(join(UNITS, 'forge-rig.service'), 'utf8');
  const key = (k: string) => text.match(new RegExp(`^${k}=(.*)$`, 'm'))?.[1];
  assert.equal(key('ExecStart'), '/opt/forge/current/bin/forge rig --shared /srv/forge/shared');
  assert.equal(key('Environment'), 'RIG_SHARED=/srv/forge/shared');
  assert.equal(key('Restart'), 'on-failure');
  assert.equal(key('KillSignal'), 'SIGTERM');
  // mixed: SIGTERM to the launcher alone, which stops its children in order; SIGKILL to what is left after.
  assert.equal(key('KillMode'), 'mixed');
  assert.ok(Number(key('TimeoutStopSec')) > RIG_STOP_S, `TimeoutStopSec ${key('TimeoutStopSec')} leaves the rig its ${RIG_STOP_S} s stop`);
  assert.ok(key('User'), 'the unit names its user');
});

test('forge install-service writes the unit for this host (its release, mount and user), and that unit verifies cleanly', async () => {
  await withRelease(async (dir) => {
    const forge = join(projectRoot, 'bin', 'forge');
    const args = ['install-service', '--prefix', join(dir, 'release'), '--shared', join(dir, 'shared'), '--user', 'root', '--unit-dir', join(dir, 'units')];
    await mkdir(join(dir, 'units'));
    const r = await execa(process.execPath, [forge, ...args], { reject: false });
    assert.equal(r.exitCode, 0, String(r.stderr));
    assert.match(String(r.stdout), /wrote .*forge-rig\.service\nnext: systemctl daemon-reload/);
    const text = await readFile(join(dir, 'units', 'forge-rig.service'), 'utf8');
    assert.match(text, new RegExp(`^ExecStart=${join(dir, 'release')}/bin/forge rig --shared ${join(dir, 'shared')}$`, 'm'));
    assert.match(text, /^User=root$/m);
    assert.ok(!text.includes('/opt/forge/current') && !text.includes('/srv/forge/shared'), 'every shipped path replaced');
    const v = await execa(ANALYZE, ['verify', join(dir, 'units', 'forge-rig.service')], { reject: false, env: { SYSTEMD_LOG_COLOR: '0' } });
    assert.deepEqual(`${v.stdout}\n${v.stderr}`.split('\n').filter((l) => l.includes('forge-rig')), []);
    assert.equal(v.exitCode, 0);
    // A prefix that is no release, a relative path, --print.
    const bad = await execa(process.execPath, [forge, 'install-service', '--prefix', join(dir, 'shared'), '--print', '--shared', join(dir, 'shared')], { reject: false });
    assert.equal(bad.exitCode, 1);
    assert.match(String(bad.stderr), /bin\/forge is not an executable/);
    const rel = await execa(process.execPath, [forge, 'install-service', '--prefix', join(dir, 'release'), '--shared', 'x y', '--print'], { reject: false });
    assert.equal(rel.exitCode, 2);
    const printed = await execa(process.execPath, [forge, 'install-service', '--prefix', join(dir, 'release'), '--shared', join(dir, 'shared'), '--print'], { reject: false });
    assert.equal(printed.exitCode, 0);
    assert.match(String(printed.stdout), /^\[Service\]$/m);
  });
});
