// One daemon lifecycle for brain, agents and launcher: cleanup registered up front,
// graceful stop on the first SIGINT/SIGTERM, forceful exit on the second, and a line saying why.
// Its own stderr lines follow FORGE_LOG_LEVEL[_<COMPONENT>] and FORGE_LOG_FORMAT (logLevel.ts).
import { type LogComponent, type LogFn, loggerFromEnv } from './logLevel.ts';

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
  /** A line at info level; `debug`, `warn` and `error` at theirs. */
  log: LogFn;
  debug: LogFn;
  warn: LogFn;
  error: LogFn;
}

/** The component whose level applies: the launcher is `rig`, the brain `brain`, an agent its GPU's name. */
export function daemonComponent(name: string): LogComponent {
  return name === 'rig' ? 'launcher' : name === 'brain' ? 'brain' : 'agent';
}

export function startDaemon(name: string, opts: { exitOnStop?: boolean; component?: LogComponent } = {}): Daemon {
  const controller = new AbortController();
  const cleanups: Array<() => Promise<void> | void> = [];
  let stopping: Promise<void> | null = null;
  const logger = loggerFromEnv(opts.component ?? daemonComponent(name), name);
  const log = logger.info;

  const stop = (reason: string): Promise<void> => {
    if (stopping) return stopping;
    log(`stopping: ${reason}`);
    controller.abort(reason);
    stopping = (async () => {
      for (const fn of cleanups.reverse()) {
        try {
          await fn();
        } catch (err) {
          logger.error(`cleanup failed: ${err instanceof Error ? err.stack : String(err)}`);
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
      logger.warn(`second ${sig}: exiting now`);
      process.exit(130);
    }
    firstSignalAt = Date.now();
    void stop(`received ${sig}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('uncaughtException', (err) => {
    logger.error(`crashed: ${err.stack ?? err.message}`);
    process.exit(70);
  });
  process.on('unhandledRejection', (err) => {
    logger.error(`crashed (unhandled rejection): ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(70);
  });

  return { signal: controller.signal, onStop: (fn) => cleanups.push(fn), stop, log, debug: logger.debug, warn: logger.warn, error: logger.error };
}
