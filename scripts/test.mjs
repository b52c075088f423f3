// `npm test`: every check in one command, in the order a failure is cheapest to read: build, typecheck,
// lint (ESLint incl. layering rules, Prettier), then Vitest (unit, integration, component, interop with
// tshark, Chromium end-to-end) inside scripts/with-keyring.sh.
// Every step runs even after a failure, so one run shows everything that is wrong; the last line counts
// the tests ("tests: N passed, N failed") and the exit code is non-zero if any step failed.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const report = join(tmpdir(), `softphone-vitest-${process.pid}.json`);
const steps = [
  ['build', 'electron-vite', ['build']],
  ['typecheck', 'npm', ['run', '--silent', 'typecheck']],
  ['lint', 'npm', ['run', '--silent', 'lint']],
  // Inside a private D-Bus session with a throwaway unlocked gnome-keyring: the keychain tests use a real
  // Secret Service, and never the keyring of the person running the tests.
  [
    'tests',
    'bash',
    [
      'scripts/with-keyring.sh',
      'node_modules/.bin/vitest',
      'run',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${report}`,
    ],
  ],
];

const failed = [];
for (const [name, command, args] of steps) {
  console.log(`\n=== ${name}: ${command} ${args.join(' ')}`);
  const bin = command === 'npm' || command === 'bash' ? command : join('node_modules', '.bin', command);
  const result = spawnSync(bin, args, { stdio: 'inherit' });
  if (result.status !== 0) failed.push(name);
}

let counts = { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0 };
try {
  counts = JSON.parse(readFileSync(report, 'utf8'));
  rmSync(report);
} catch {
  if (!failed.includes('tests')) failed.push('tests (no report)');
}
const skipped = counts.numPendingTests + counts.numTodoTests;
console.log(`\nsteps failed: ${failed.length === 0 ? 'none' : failed.join(', ')}`);
console.log(
  `tests: ${counts.numPassedTests} passed, ${counts.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`,
);
process.exit(failed.length === 0 ? 0 : 1);
