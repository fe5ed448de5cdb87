import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseAutogroup } from '../../agents/core/sessionNice.ts';
import { parseProcStat, procStatFields } from '../../agents/core/pids.ts';

const sessionOf = (stat: string) => parseProcStat(stat)?.session ?? null;

describe('parseAutogroup', () => {
  it('reads the nice of a session group as /proc/PID/autogroup shows it', () => {
    assert.equal(parseAutogroup('/autogroup-41128 nice 0\n'), 0);
    assert.equal(parseAutogroup('/autogroup-7 nice 10'), 10);
    assert.equal(parseAutogroup('/autogroup-7 nice -5\n'), -5);
  });
  it('is null for text that is not one', () => {
    assert.equal(parseAutogroup(''), null);
    assert.equal(parseAutogroup('/autogroup-7'), null);
  });
});

describe('parseProcStat: the session', () => {
  it('reads the session id after the command name, whatever the name holds', () => {
    assert.equal(sessionOf('23365 (bwrap) S 23363 23365 23365 0 -1 4194560 41'), 23365);
    assert.equal(sessionOf('7 (a) b) (c) R 1 7 9 0 -1'), 9);
  });
  it('is null for a line it cannot read', () => {
    assert.equal(sessionOf(''), null);
    assert.equal(sessionOf('12 (x)'), null);
  });
});

describe('procStatFields', () => {
  it('starts at the state, after a command name that holds spaces and parentheses', () => {
    const f = procStatFields('7 (a) b) (c) Z 1 7 9 0 -1 4194560 41 0 0 0 3 4 5 6');
    assert.deepEqual([f[0], f[1], f[13], f[14]], ['Z', '1', '5', '6']);
  });
});
