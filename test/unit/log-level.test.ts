// Log levels per component from the environment, the level filter, and the json line format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { daemonComponent } from '../../agents/core/lifecycle.ts';
import { formatLogLine, logSettings, loggerFromEnv, makeLogger, shows } from '../../agents/core/logLevel.ts';
import { VERDICT_LEVEL, verdictLine } from '../../agents/worker/verdictLog.ts';

const T = Date.parse('2026-12-02T01:02:03.456Z');

test('settings: the component\'s own variable over FORGE_LOG_LEVEL over info; unknown values named, the default kept', () => {
  const cases: Array<[string, Parameters<typeof logSettings>[0], Record<string, string>, string, string, string[]]> = [
    ['nothing set', 'brain', {}, 'info', 'text', []],
    ['all components', 'agent', { FORGE_LOG_LEVEL: 'warn' }, 'warn', 'text', []],
    ['own over all', 'executor', { FORGE_LOG_LEVEL: 'error', FORGE_LOG_LEVEL_EXECUTOR: 'debug' }, 'debug', 'text', []],
    ['another component\'s variable does not apply', 'brain', { FORGE_LOG_LEVEL_EXECUTOR: 'debug' }, 'info', 'text', []],
    ['case and spaces forgiven', 'launcher', { FORGE_LOG_LEVEL_LAUNCHER: ' DEBUG ' }, 'debug', 'text', []],
    ['empty is unset', 'brain', { FORGE_LOG_LEVEL: '' }, 'info', 'text', []],
    ['json', 'brain', { FORGE_LOG_FORMAT: 'json' }, 'info', 'json', []],
    [
      'unknown level and format', 'worker', { FORGE_LOG_LEVEL_WORKER: 'verbose', FORGE_LOG_LEVEL: 'warn', FORGE_LOG_FORMAT: 'yaml' }, 'warn', 'text',
      ['FORGE_LOG_LEVEL_WORKER="verbose" is not understood: give one of debug, info, warn, error', 'FORGE_LOG_FORMAT="yaml" is not understood: give one of text, json'],
    ],
  ];
  for (const [what, component, env, level, format, problems] of cases) {
    assert.deepEqual(logSettings(component, env), { level, format, problems }, what);
  }
});

test('the filter: a line shows at its threshold and above', () => {
  const table: Array<[Parameters<typeof shows>[0], Parameters<typeof shows>[1], boolean]> = [
    ['debug', 'debug', true], ['debug', 'info', false], ['info', 'info', true], ['info', 'warn', false],
    ['warn', 'info', true], ['error', 'warn', true], ['error', 'error', true], ['warn', 'error', false],
  ];
  for (const [level, threshold, want] of table) assert.equal(shows(level, threshold), want, `${level} under ${threshold}`);
  const lines: string[] = [];
  const log = makeLogger('executor', 'worker[9] executor', { level: 'info', format: 'text', problems: [] }, (l) => lines.push(l), () => T);
  log.debug('ALLOWED b1__a attempt 1: allowed');
  log.info('BLOCKED b1__b attempt 1: blocked');
  log.warn('NEEDS_APPROVAL b1__c attempt 1: pip');
  log.at('error', 'boom');
  assert.deepEqual(lines, [
    '2026-12-02T01:02:03.456Z worker[9] executor: BLOCKED b1__b attempt 1: blocked\n',
    '2026-12-02T01:02:03.456Z worker[9] executor: NEEDS_APPROVAL b1__c attempt 1: pip\n',
    '2026-12-02T01:02:03.456Z worker[9] executor: boom\n',
  ]);
});

test('formats: text as the daemons always wrote; json one object a line, newlines escaped', () => {
  const line = { t: T, level: 'warn' as const, component: 'agent' as const, name: 'gpu-0', msg: 'second SIGINT: exiting now' };
  assert.equal(formatLogLine(line, 'text'), '2026-12-02T01:02:03.456Z gpu-0: second SIGINT: exiting now');
  const json = formatLogLine({ ...line, msg: 'crashed: Error\n    at x' }, 'json');
  assert.equal(json.includes('\n'), false);
  assert.deepEqual(JSON.parse(json), { t: '2026-12-02T01:02:03.456Z', level: 'warn', component: 'agent', name: 'gpu-0', msg: 'crashed: Error\n    at x' });
  assert.deepEqual(Object.keys(JSON.parse(json)).slice(0, 3), ['t', 'level', 'component']);
});

test('a mistyped setting is said once, even when the level hides warnings', () => {
  const lines: string[] = [];
  const log = loggerFromEnv('brain', 'brain', { FORGE_LOG_LEVEL: 'error', FORGE_LOG_FORMAT: 'jsn' }, (l) => lines.push(l));
  log.warn('hidden');
  log.error('shown');
  assert.equal(lines.length, 2, lines.join(''));
  assert.match(lines[0]!, /brain: FORGE_LOG_FORMAT="jsn" is not understood: give one of text, json; using error, text\n$/);
  assert.match(lines[1]!, /brain: shown\n$/);
});

test('components: the daemons by name; executor verdicts at debug, info, warn', () => {
  assert.deepEqual(['rig', 'brain', 'gpu-0', 'card-a'].map(daemonComponent), ['launcher', 'brain', 'agent', 'agent']);
  assert.deepEqual(VERDICT_LEVEL, { ALLOWED: 'debug', BLOCKED: 'info', NEEDS_APPROVAL: 'warn' });
  assert.equal(verdictLine({ verdict: 'BLOCKED', reason: 'blocked: "curl" is a network tool' }, 'b1__get', 2), 'BLOCKED b1__get attempt 2: blocked: "curl" is a network tool');
});

test('config log_levels reach the children as environment variables; a variable already set wins; a bad level is refused with the allowed ones', async () => {
  const { levelEnvFromConfig } = await import('../../agents/core/logLevel.ts');
  const { Config } = await import('../../agents/core/config.ts');
  const { checkSchema } = await import('../../agents/core/zodIssues.ts');
  const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }], log_levels: { executor: 'debug', brain: 'warn' } });
  assert.deepEqual(levelEnvFromConfig(config.log_levels, {}), { FORGE_LOG_LEVEL_BRAIN: 'warn', FORGE_LOG_LEVEL_EXECUTOR: 'debug' });
  assert.deepEqual(levelEnvFromConfig(config.log_levels, { FORGE_LOG_LEVEL_BRAIN: 'error' }), { FORGE_LOG_LEVEL_EXECUTOR: 'debug' });
  const bad = checkSchema(Config, { gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }], log_levels: { executor: 'loud', workr: 'info' } }, 'config.json');
  assert.equal(bad.ok, false);
  const text = bad.ok ? '' : bad.problems.join('\n');
  assert.match(text, /log_levels\.executor/);
  assert.match(text, /debug/);
  assert.match(text, /log_levels\.workr: unknown key \(did you mean 'worker'\?\)/);
});
