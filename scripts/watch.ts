// forge watch [--shared DIR] [--interval-ms N] [--once]: the live view. Redraws every
// interval (the source of truth: file events never report what another machine wrote to an
// NFS mount) and, sooner, on file events in the task folders, debounced.
import '../agents/core/shortLived.ts';
import { watch } from 'chokidar';
import { parseCommand, usageError, runCommand } from '../agents/core/args.ts';
import { Ticker } from '../agents/core/loop.ts';
import { mountPaths } from '../agents/core/paths.ts';
import { readSnapshot } from '../agents/status/snapshot.ts';
import { renderWatch } from '../agents/status/watch.ts';

const USAGE = `usage: forge watch [--shared DIR] [--interval-ms N] [--once]
  --interval-ms N  redraw at least every N ms (default 1000, at most 2000)
  --once           print one frame without screen control, then exit
  --shared DIR     the shared mount (default: $RIG_SHARED, else ./shared)
  -h, --help       print this help and exit`;

const DEFAULT_INTERVAL_MS = 1000;
/** The contract: refreshed at least every 2 s. */
const MAX_INTERVAL_MS = 2000;
const DEBOUNCE_MS = 150;

async function main(): Promise<void> {
  const { values, shared } = parseCommand(USAGE, { 'interval-ms': { type: 'string' }, once: { type: 'boolean' } }, undefined, { positionals: { max: 0 } });
  const intervalArg = values['interval-ms'];
  const intervalMs = intervalArg === undefined ? DEFAULT_INTERVAL_MS : Number(intervalArg);
  if (!Number.isInteger(intervalMs) || intervalMs < 100 || intervalMs > MAX_INTERVAL_MS) {
    usageError(USAGE, `--interval-ms: expected a whole number of milliseconds from 100 to ${MAX_INTERVAL_MS}, got "${intervalArg}"`);
  }

  // A pipe has no columns: COLUMNS (set by most shells for children) or 100.
  const size = () => ({
    width: process.stdout.columns || Number(process.env.COLUMNS) || 100,
    height: process.stdout.rows || undefined,
  });

  if (values.once) {
    const snap = await readSnapshot(shared, Date.now());
    process.stdout.write(renderWatch(snap, { width: size().width, intervalMs }) + '\n');
    process.exit(0);
  }

  const ENTER = '\x1b[?1049h\x1b[?25l\x1b[2J';
  const LEAVE = '\x1b[?25h\x1b[?1049l';
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    process.stdout.write(LEAVE);
  };
  process.on('exit', restore);

  const controller = new AbortController();
  const ticker = new Ticker(
    async () => {
      const snap = await readSnapshot(shared, Date.now());
      const { width, height } = size();
      const frame = renderWatch(snap, { width, height, intervalMs });
      // Home, each line then clear-to-end-of-line, then clear below: no flicker.
      process.stdout.write('\x1b[H' + frame.split('\n').join('\x1b[K\n') + '\x1b[K\x1b[J');
    },
    {
      intervalMs,
      signal: controller.signal,
      onError: (err) => process.stdout.write(`\x1b[H\x1b[2Jwatch: ${err instanceof Error ? err.message : String(err)}\n`),
    },
  );

  const paths = mountPaths(shared);
  let debounce: NodeJS.Timeout | null = null;
  const watcher = watch([...Object.values(paths.folders), paths.gpus, paths.decisionLog], {
    ignoreInitial: true,
    depth: 1,
    ignorePermissionErrors: true,
  });
  watcher.on('all', () => {
    if (debounce) return;
    debounce = setTimeout(() => {
      debounce = null;
      ticker.poke();
    }, DEBOUNCE_MS);
  });
  watcher.on('error', () => {}); // the periodic redraw carries on without events

  const quit = async (code: number) => {
    controller.abort();
    if (debounce) clearTimeout(debounce);
    await Promise.allSettled([ticker.stop(), watcher.close()]);
    restore();
    process.exit(code);
  };
  process.on('SIGINT', () => void quit(0));
  process.on('SIGTERM', () => void quit(0));
  process.on('SIGHUP', () => void quit(0));
  process.stdout.on('resize', () => ticker.poke());
  if (process.stdin.isTTY) {
    // Raw mode swallows Ctrl-C as a key, so handle it (and q) here.
    process.stdin.setRawMode(true);
    process.stdin.resume();
    process.stdin.on('data', (b: Buffer) => {
      const key = b.toString();
      if (key === 'q' || key === '\u0003') void quit(0);
    });
  }

  process.stdout.write(ENTER);
  ticker.start();
}

runCommand(main);
