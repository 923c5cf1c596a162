#!/usr/bin/env node
// Project lint: the house rules that the type checker cannot see.
//   node tools/lint.mjs <project-root> [...]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const RULES = [
  { re: /\bshell:\s*true\b/, why: 'never a shell string: pass an argument array' },
  // node.exec(cmd, args): TestNode's (@tscni/testing/node), an argument array, no shell
  { re: /(?<!\bnode\.)\b(execSync|exec)\(\s*[`'"]/, why: 'never a shell string: use spawn/run with an argument array' },
  { re: /from ['"]node:child_process['"].*\bexec\b|\{\s*exec\s*[,}].*child_process/, why: 'child_process.exec runs a shell' },
  { re: /\bdebugger\b/, why: 'leftover debugger statement' },
];
// Plugins run once per pod per chain step: keep heavy imports out of their start-up path.
const HOT_PATH_RULES = [{ re: /from ['"]execa['"]/, why: 'execa costs ~45 ms at start-up; use @tscni/net run()' }];
const MAX_LINES = 400;

let problems = 0;
for (const root of process.argv.slice(2)) {
  const hot = /^packages\/(cni|net|plugins)\b/.test(root);
  for (const file of walk(join(root, 'src'))) {
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n');
    const rules = hot ? [...RULES, ...HOT_PATH_RULES] : RULES;
    lines.forEach((line, i) => {
      for (const rule of rules) if (rule.re.test(line)) report(file, i + 1, rule.why);
    });
    if (lines.length > MAX_LINES) report(file, 1, `${lines.length} lines: split it (files have one purpose, at most ${MAX_LINES} lines)`);
  }
}
if (problems) {
  console.error(`${problems} lint problem(s)`);
  process.exit(1);
}

function report(file, line, why) {
  problems++;
  console.error(`${relative(process.cwd(), file)}:${line}: ${why}`);
}

function* walk(dir) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (/\.(ts|mts|cts|js|mjs)$/.test(name)) yield p;
  }
}
