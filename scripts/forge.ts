// forge <command> [args...]: one command for everything a person runs. Each command is a
// dynamic import with a static specifier, so the release's bundle (scripts/release.ts, esbuild
// with code splitting) loads only that command's code: `forge status` never loads the rig.
// The command's own arguments are what it sees as process.argv.slice(2).
const COMMANDS: Record<string, { about: string; load: () => Promise<unknown> }> = {
  rig: { about: 'start the brain, the agents and their LLM servers', load: () => import('../agents/rig/main.ts') },
  submit: { about: 'submit a plan; prints the batch id last', load: () => import('./submit.ts') },
  status: { about: 'one look at the rig (--json for scripts)', load: () => import('./status.ts') },
  watch: { about: 'the live view', load: () => import('./watch.ts') },
  signal: { about: 'stop, abort or kill an agent or a task', load: () => import('./signal.ts') },
  doctor: { about: 'check the mount (--repair to fix)', load: () => import('./doctor.ts') },
  demo: { about: 'run an example plan on a simulated rig in a temporary mount', load: () => import('./demo.ts') },
};

const usage = `usage: forge <command> [args...]   (forge <command> --help for its options)
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(8)} ${c.about}`)
  .join('\n')}`;

const name = process.argv[2];
if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
  process.stdout.write(usage + '\n');
  process.exit(name === undefined ? 2 : 0);
}
const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
if (command === undefined) {
  process.stderr.write(`forge: unknown command '${name}'; the commands: ${Object.keys(COMMANDS).join(', ')}\n${usage}\n`);
  process.exit(2);
}
process.argv.splice(2, 1);
await command.load();
