// One daemon lifecycle for brain, agents and launcher: cleanup registered up front,
// graceful stop on the first SIGINT/SIGTERM, forceful exit on the second, and a line saying why.

/**
 * Exit code of a daemon that refused to start because another one holds its place (a second
 * brain on the mount, a second agent of the same name, a rig whose LLM servers' ports are
 * taken: agents/rig/portCheck.ts): restarting it cannot help.
 */
export const EXIT_REFUSED = 3;

export interface Daemon {
  /** Aborted when the daemon should stop. */
  signal: AbortSignal;
  /** Registers cleanup, run in reverse order of registration. */
  onStop(fn: () => Promise<void> | void): void;
  /** Stops the daemon for a reason; resolves when cleanup finished. */
  stop(reason: string): Promise<void>;
  log(line: string): void;
}

export function startDaemon(name: string, opts: { exitOnStop?: boolean } = {}): Daemon {
  const controller = new AbortController();
  const cleanups: Array<() => Promise<void> | void> = [];
  let stopping: Promise<void> | null = null;
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${name}: ${line}\n`);

  const stop = (reason: string): Promise<void> => {
    if (stopping) return stopping;
    log(`stopping: ${reason}`);
    controller.abort(reason);
    stopping = (async () => {
      for (const fn of cleanups.reverse()) {
        try {
          await fn();
        } catch (err) {
          log(`cleanup failed: ${err instanceof Error ? err.stack : String(err)}`);
        }
      }
      log('stopped');
      if (opts.exitOnStop !== false) process.exit(0);
    })();
    return stopping;
  };

  let firstSignalAt = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    // Ctrl-C reaches the whole process group and the launcher forwards SIGTERM as well:
    // a repeat within 3 s is the same request, not an order to exit at once.
    if (firstSignalAt && Date.now() - firstSignalAt < 3000) return;
    if (firstSignalAt) {
      log(`second ${sig}: exiting now`);
      process.exit(130);
    }
    firstSignalAt = Date.now();
    void stop(`received ${sig}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('uncaughtException', (err) => {
    log(`crashed: ${err.stack ?? err.message}`);
    process.exit(70);
  });
  process.on('unhandledRejection', (err) => {
    log(`crashed (unhandled rejection): ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(70);
  });

  return { signal: controller.signal, onStop: (fn) => cleanups.push(fn), stop, log };
}
