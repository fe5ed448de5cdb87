// The code's shape, measured: files under agents/ over MAX_FILE_LINES lines, functions (and
// methods, arrows, class bodies are not counted) over MAX_FUNCTION_LINES lines, and imports of
// a devDependency from agents/ (what runs on the rig ships with `npm ci --omit=dev`).
// `node --import tsx tools/shape/measure.ts` prints what is over; test/unit/shape.test.ts holds
// the line.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export const MAX_FILE_LINES = 400;
export const MAX_FUNCTION_LINES = 80;

export interface ShapeProblem { file: string; line: number; what: string }

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out.sort();
}

function functionName(node: ts.Node, sf: ts.SourceFile): string {
  const named = node as ts.FunctionLikeDeclaration;
  if (named.name) return named.name.getText(sf);
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(sf);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(sf);
  return '(anonymous)';
}

/** Every function-like node's span in lines, nested ones measured on their own. */
export function longFunctions(file: string, text: string, max = MAX_FUNCTION_LINES): ShapeProblem[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: ShapeProblem[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && (node as ts.FunctionLikeDeclaration).body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      if (lines > max) out.push({ file, line: start + 1, what: `function ${functionName(node, sf)} is ${lines} lines (at most ${max})` });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

export function shapeProblems(root: string): ShapeProblem[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  const dev = Object.keys(pkg.devDependencies ?? {});
  const out: ShapeProblem[] = [];
  for (const abs of tsFiles(join(root, 'agents'))) {
    const file = relative(root, abs);
    const text = readFileSync(abs, 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > MAX_FILE_LINES) out.push({ file, line: 1, what: `file is ${lines} lines (at most ${MAX_FILE_LINES})` });
    out.push(...longFunctions(file, text));
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"./][^'"]*)['"]/g)) {
      const spec = m[1]!;
      const pkgName = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      if (dev.includes(pkgName)) {
        const line = text.slice(0, m.index).split('\n').length;
        out.push({ file, line, what: `imports the devDependency ${pkgName}` });
      }
    }
  }
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const root = new URL('../..', import.meta.url).pathname;
  const problems = shapeProblems(root);
  for (const p of problems) process.stdout.write(`${p.file}:${p.line}: ${p.what}\n`);
  process.stdout.write(`${problems.length} over\n`);
  process.exitCode = problems.length ? 1 : 0;
}
