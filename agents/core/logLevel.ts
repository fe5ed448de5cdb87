// Log levels and the format of the daemons' own output lines, from the environment (the
// config's log_levels reach it through the launcher, levelEnvFromConfig):
//   FORGE_LOG_LEVEL=debug|info|warn|error              every component (default info)
//   FORGE_LOG_LEVEL_<COMPONENT>=…                      one component, over FORGE_LOG_LEVEL,
//                                                      e.g. FORGE_LOG_LEVEL_EXECUTOR=debug
//   FORGE_LOG_FORMAT=text|json                         json: one {"t","level","component","name","msg"} object a line
// Components: brain, agent (each GPU agent), launcher (npm run rig), worker, executor (the
// worker's policy verdicts). Only the processes' own stderr lines are filtered: decision log
// lines, and protocol lines another process reads (a worker's task pid line), never are.
// Pure apart from `loggerFromEnv`'s default arguments.

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_COMPONENTS = ['brain', 'agent', 'launcher', 'worker', 'executor'] as const;
export type LogComponent = (typeof LOG_COMPONENTS)[number];

export type LogFormat = 'text' | 'json';

export interface LogSettings {
  level: LogLevel;
  format: LogFormat;
  /** Environment values that were not understood, each with the variable, the value and the allowed ones; the defaults apply. */
  problems: string[];
}

type Env = Readonly<Record<string, string | undefined>>;

/** The variable that sets one component's level. */
export function levelVariable(component: LogComponent): string {
  return `FORGE_LOG_LEVEL_${component.toUpperCase()}`;
}

/** A component's level and the output format, from the environment (defaults: info, text). */
export function logSettings(component: LogComponent, env: Env): LogSettings {
  const problems: string[] = [];
  const pick = <T extends string>(name: string, allowed: readonly T[]): T | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const v = raw.trim().toLowerCase();
    if ((allowed as readonly string[]).includes(v)) return v as T;
    problems.push(`${name}=${JSON.stringify(raw)} is not understood: give one of ${allowed.join(', ')}`);
    return undefined;
  };
  const own = pick(levelVariable(component), LOG_LEVELS);
  const all = pick('FORGE_LOG_LEVEL', LOG_LEVELS);
  const format = pick('FORGE_LOG_FORMAT', ['text', 'json'] as const) ?? 'text';
  return { level: own ?? all ?? 'info', format, problems };
}

/**
 * The config's log_levels as the environment variables the launcher passes on to the brain, the
 * agents and (through them) the workers; a variable already set wins over the config.
 */
export function levelEnvFromConfig(levels: Partial<Record<LogComponent, LogLevel>>, env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of LOG_COMPONENTS) {
    const l = levels[c];
    if (l && !env[levelVariable(c)]) out[levelVariable(c)] = l;
  }
  return out;
}

/** Whether a line of `level` shows under `threshold`. */
export function shows(level: LogLevel, threshold: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(threshold);
}

export interface LogLine {
  /** ms since the epoch. */
  t: number;
  level: LogLevel;
  component: LogComponent;
  /** Who, as people know it: brain, gpu-0, rig, worker[123]. */
  name: string;
  msg: string;
}

/**
 * text: `<ISO time> <name>: <msg>`, as the daemons always wrote (people and tests read them);
 * json: one object on one line (a newline in msg stays escaped inside it).
 */
export function formatLogLine(line: LogLine, format: LogFormat): string {
  const t = new Date(line.t).toISOString();
  if (format === 'json') return JSON.stringify({ t, level: line.level, component: line.component, name: line.name, msg: line.msg });
  return `${t} ${line.name}: ${line.msg}`;
}

export type LogFn = (msg: string) => void;

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  at(level: LogLevel, msg: string): void;
  readonly settings: LogSettings;
}

/** A logger of one component writing whole lines to `write` (default: stderr). */
export function makeLogger(component: LogComponent, name: string, settings: LogSettings, write: (line: string) => void, now: () => number = Date.now): Logger {
  const at = (level: LogLevel, msg: string) => {
    if (shows(level, settings.level)) write(formatLogLine({ t: now(), level, component, name, msg }, settings.format) + '\n');
  };
  return { debug: (m) => at('debug', m), info: (m) => at('info', m), warn: (m) => at('warn', m), error: (m) => at('error', m), at, settings };
}

/**
 * A logger set from this process's environment. What it did not understand is said once, as
 * a warning shown whatever the level: a mistyped level must not silence its own complaint.
 */
export function loggerFromEnv(component: LogComponent, name: string, env: Env = process.env, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const settings = logSettings(component, env);
  for (const p of settings.problems) {
    write(formatLogLine({ t: Date.now(), level: 'warn', component, name, msg: `${p}; using ${settings.level}, ${settings.format}` }, settings.format) + '\n');
  }
  return makeLogger(component, name, settings, write);
}
