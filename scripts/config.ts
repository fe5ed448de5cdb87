// forge config check [--shared DIR] [--config FILE] [--json]: loads the config as the rig does
// (agents/core/config.ts loadConfig: schema, then the rules between fields) and prints a
// summary, or every problem as `file: path: message`. Exit 0 when the rig would start with it,
// 1 when it would refuse it, 2 on a usage error.
import { resolve } from 'node:path';
import { parseCommand, usageError } from '../agents/core/args.ts';
import { type Config, loadConfig } from '../agents/core/config.ts';
import { errorMessage, UserInputError } from '../agents/core/errors.ts';
import { mountPaths } from '../agents/core/paths.ts';

const USAGE = `usage: forge config check [--config FILE] [--json] [--shared DIR]
  check          load the config as the rig would; print a summary, or every problem (exit 1)
  --config FILE  the config file to check (default: <shared>/config.json)
  --json         print one JSON object: { ok, file, gpus, problems }
  --shared DIR   the shared mount (default: $RIG_SHARED, else ./shared)
  -h, --help     print this help and exit`;

const ACTIONS = ['check'];

/** One line on what the rig would run with this config. */
function summarize(config: Config): string {
  const gpus = config.gpus.map((g) => `${g.name} (GPU ${g.id}, ${g.model}, ${g.runtime} on port ${g.port}${g.manage ? ', managed' : ''})`);
  const n = config.gpus.length;
  return `ok: ${n} GPU${n === 1 ? '' : 's'}: ${gpus.join(', ')}`;
}

const { values, positionals, shared } = parseCommand(USAGE, { config: { type: 'string' }, json: { type: 'boolean' } }, undefined, { positionals: { min: 1, max: 1 } });
if (!ACTIONS.includes(positionals[0]!)) usageError(USAGE, `unknown action '${positionals[0]}': forge config takes ${ACTIONS.join(', ')}`);
const file = values.config === undefined ? mountPaths(shared).config : resolve(values.config);

let config: Config | null = null;
let problems: string[] = [];
try {
  config = await loadConfig(file);
} catch (err) {
  problems = err instanceof UserInputError ? err.problems : [`${file}: ${errorMessage(err)}`];
}

if (values.json) {
  const gpus = config?.gpus.map(({ id, name, model, runtime, port, manage }) => ({ id, name, model, runtime, port, manage })) ?? null;
  process.stdout.write(JSON.stringify({ ok: config !== null, file, gpus, problems }, null, 2) + '\n');
} else if (config) {
  process.stdout.write(`${summarize(config)}\n`);
} else {
  process.stderr.write(`${problems.join('\n')}\nconfig check: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${file}; the rig would refuse it\n`);
}
process.exitCode = config ? 0 : 1;
