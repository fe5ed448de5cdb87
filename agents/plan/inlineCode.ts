// Where a command hands text to an interpreter as code (sh -c CODE, python -c CODE, ...): a
// placeholder there would make its value code, so the command rules refuse it and show the
// positional form instead.

function programName(arg: string | undefined): string {
  return (arg ?? '').split('/').pop()!.toLowerCase();
}

const SHELLS = /^(sh|bash|dash|zsh|ksh|ash|mksh)$/;
const PYTHON = /^python[0-9.]*$/;

/**
 * Indexes of the arguments an interpreter runs as code (sh -c CODE, python -c CODE,
 * node -e CODE, perl -e CODE, ruby -e CODE), looking through env/nice/nohup/timeout.
 * A placeholder there would make its value code; it must be a positional argument instead.
 */
export function inlineCodeArgs(argv: string[]): { indexes: number[]; interpreter: string } {
  let i = 0;
  for (;;) {
    const p = programName(argv[i]);
    if (p === 'env' || p === 'nice' || p === 'nohup' || p === 'timeout' || p === 'stdbuf' || p === 'time') {
      i++;
      while (i < argv.length && (argv[i]!.startsWith('-') || /^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[i]!))) i++;
      if (p === 'timeout' && i < argv.length) i++; // the duration
      continue;
    }
    break;
  }
  const prog = programName(argv[i]);
  const indexes: number[] = [];
  const args = (from: number, step: (arg: string, j: number) => 'stop' | 'skip' | 'next') => {
    for (let j = from; j < argv.length; j++) {
      const r = step(argv[j]!, j);
      if (r === 'stop') return;
      if (r === 'skip') j++;
    }
  };
  if (SHELLS.test(prog)) {
    args(i + 1, (a, j) => {
      if (a === '--' || !/^[-+]/.test(a)) return 'stop'; // a script file: no inline code
      if (a === '-o' || a === '+o') return 'skip';
      if (/^-[A-Za-z]*c[A-Za-z]*$/.test(a)) {
        if (j + 1 < argv.length) indexes.push(j + 1);
        return 'stop';
      }
      return 'next';
    });
  } else if (PYTHON.test(prog)) {
    args(i + 1, (a, j) => {
      if (!a.startsWith('-') || a === '-m' || a === '--') return 'stop';
      if (/^-[A-Za-z]*c$/.test(a)) {
        if (j + 1 < argv.length) indexes.push(j + 1);
        return 'stop';
      }
      if (/^-c./.test(a)) {
        indexes.push(j);
        return 'stop';
      }
      return a === '-W' || a === '-X' ? 'skip' : 'next';
    });
  } else if (prog === 'node' || prog === 'nodejs' || prog === 'deno' || prog === 'bun') {
    args(i + 1, (a, j) => {
      if (!a.startsWith('-') || a === '--') return 'stop';
      if (a === '-e' || a === '--eval' || a === '-p' || a === '--print' || a === '-pe' || a === '-ep') {
        if (j + 1 < argv.length) indexes.push(j + 1);
        return 'skip';
      }
      if (a.startsWith('--eval=') || a.startsWith('--print=')) {
        indexes.push(j);
        return 'next';
      }
      return a === '-r' || a === '--require' || a === '--import' || a === '--loader' ? 'skip' : 'next';
    });
  } else if (prog === 'perl' || prog === 'ruby') {
    args(i + 1, (a, j) => {
      if (!a.startsWith('-') || a === '--') return 'stop';
      if (/^-[A-Za-z]*[eE]$/.test(a)) {
        if (j + 1 < argv.length) indexes.push(j + 1);
        return 'skip';
      }
      return 'next';
    });
  }
  return { indexes, interpreter: prog };
}

/** The same command with the placeholder passed as a positional argument, in the interpreter's own words. */
export function positionalHint(interpreter: string, placeholder: string): string {
  const ph = `{${placeholder}}`;
  if (SHELLS.test(interpreter)) return `${interpreter} -c '... "$1" ...' ${interpreter} ${ph}`;
  if (PYTHON.test(interpreter)) return `${interpreter} -c '... sys.argv[1] ...' ${ph}`;
  if (interpreter === 'perl') return `perl -e '... $ARGV[0] ...' ${ph}`;
  if (interpreter === 'ruby') return `ruby -e '... ARGV[0] ...' ${ph}`;
  return `${interpreter} -e '... process.argv[1] ...' ${ph}`;
}
