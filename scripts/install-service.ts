// forge install-service [--prefix DIR] [--shared DIR] [--user NAME] [--unit-dir DIR] [--print]:
// writes forge-rig.service for this host (agents/rig/serviceUnit.ts) into the systemd unit
// folder, whole or not at all, and says how to start it. --print shows the unit instead.
import { access, constants, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseCommand, usageError } from '../agents/core/args.ts';
import { writeFileAtomic } from '../agents/core/atomic.ts';
import { projectRoot } from '../agents/core/entry.ts';
import { errorMessage } from '../agents/core/errors.ts';
import { renderUnit } from '../agents/rig/serviceUnit.ts';

const USAGE = `usage: forge install-service [--prefix DIR] [--shared DIR] [--user NAME] [--unit-dir DIR] [--print]
  --prefix DIR    the release the service runs, its bin/forge (default: this one, ${projectRoot});
                  give the symlink an upgrade switches, e.g. /opt/forge/current
  --shared DIR    the shared mount the rig runs on (default: $RIG_SHARED, else ./shared, made absolute)
  --user NAME     the user and group the rig runs as (default forge; it needs the video group for the GPUs)
  --unit-dir DIR  where forge-rig.service is written (default /etc/systemd/system)
  --print         print the unit on stdout, write nothing
  -h, --help      print this help and exit`;

const { values, shared } = parseCommand(USAGE, {
  prefix: { type: 'string' }, user: { type: 'string' }, 'unit-dir': { type: 'string' }, print: { type: 'boolean' },
}, undefined, { positionals: { min: 0, max: 0 } });

const prefix = resolve(values.prefix ?? projectRoot);
const template = await readFile(join(projectRoot, 'share', 'systemd', 'forge-rig.service'), 'utf8');
const unit = renderUnit(template, { prefix, shared: resolve(shared), user: values.user ?? 'forge' });
if (!unit.ok) usageError(USAGE, unit.problem);
const forge = join(prefix, 'bin', 'forge');
if (!(await access(forge, constants.X_OK).then(() => true, () => false))) {
  process.stderr.write(`install-service: ${forge} is not an executable: --prefix must be a Forge release (or checkout) folder holding bin/forge\n`);
  process.exit(1);
}
if (values.print) {
  process.stdout.write(unit.text);
} else {
  const file = join(resolve(values['unit-dir'] ?? '/etc/systemd/system'), 'forge-rig.service');
  try {
    await writeFileAtomic(file, unit.text);
  } catch (err) {
    process.stderr.write(`install-service: cannot write ${file}: ${errorMessage(err)} (root is needed for /etc/systemd/system; or --print and copy it)\n`);
    process.exit(1);
  }
  process.stdout.write(`wrote ${file}\nnext: systemctl daemon-reload && systemctl enable --now forge-rig; its log: journalctl -u forge-rig -f\n`);
}
