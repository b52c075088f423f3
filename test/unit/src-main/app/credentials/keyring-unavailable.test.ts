/**
 * KeyringCredentialStore.open refuses, with KeychainUnavailableError naming what is missing, whenever the
 * Secret Service cannot take secrets. Each case runs the fixture in its own Node process: libdbus reads
 * the session bus address once per process, so it cannot be changed inside this one.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../../support/fixtures';

const root = resolve(import.meta.dirname, '../../../../..');
const fixture = join(import.meta.dirname, 'fixtures', 'open-keychain.ts');

interface Outcome {
  ok: boolean;
  name?: string;
  reason?: string;
  message?: string;
}

/** Long enough for a slow start, short enough to report a hung keychain before the test times out. */
const CHILD_TIMEOUT_MS = 15_000;

/** Runs `wrapper... node fixture` in its own process group and parses the fixture's one line of JSON. */
function openIn(env: NodeJS.ProcessEnv, wrapper: string[] = []): Promise<Outcome> {
  const node = [process.execPath, '--import', 'tsx', fixture, 'org.reload-softphone.test.unavailable'];
  const [command, ...args] = [...wrapper, ...node] as [string, ...string[]];
  return new Promise((done, fail) => {
    // detached: a process group of its own, so a hung run (bus, daemon, node) can be killed as a whole.
    const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, CHILD_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      fail(new Error(`could not run ${command}: ${error.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        done(JSON.parse(line) as Outcome);
      } catch {
        const how = timedOut ? `was killed after ${CHILD_TIMEOUT_MS} ms` : `exited with ${code}`;
        fail(new Error(`${command} ${how} without an answer; stdout: ${stdout} stderr: ${stderr}`));
      }
    });
  });
}

/** The environment of this process without any way to an existing session bus. */
function isolatedEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DBUS_SESSION_BUS_ADDRESS;
  return { ...env, ...extra };
}

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => (dir = await tempDir('softphone-keychain-')));
afterEach(async () => dir.remove());

function expectRefusal(outcome: Outcome): string {
  expect(outcome).toMatchObject({ ok: false, name: 'KeychainUnavailableError', reason: 'keychain-unavailable' });
  const message = outcome.message ?? '';
  expect(message).toMatch(/^OS keychain unavailable: /);
  expect(message).toMatch(/Refusing to store secrets rather than write them in clear text/);
  expect(message).toMatch(/Secret Service \(org\.freedesktop\.secrets\)/);
  return message;
}

describe('KeyringCredentialStore.open without a usable Secret Service', () => {
  it('refuses when the session bus address points at a socket that does not exist', async () => {
    const socket = join(dir.path, 'no-such-bus');
    const outcome = await openIn(
      isolatedEnv({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${socket}`, XDG_RUNTIME_DIR: dir.path }),
    );
    const message = expectRefusal(outcome);
    expect(message).toContain(`the D-Bus session bus at unix:path=${socket} cannot be reached`);
    expect(message).toMatch(/Failed to connect to socket/);
  });

  it('refuses when there is no session bus at all, naming DBUS_SESSION_BUS_ADDRESS', async () => {
    // XDG_RUNTIME_DIR too: libdbus falls back to $XDG_RUNTIME_DIR/bus when no address is set.
    const outcome = await openIn(isolatedEnv({ XDG_RUNTIME_DIR: dir.path }));
    expect(expectRefusal(outcome)).toContain('there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)');
  });

  it('refuses when the session bus has no Secret Service on it', async () => {
    // A private bus that knows no activatable services, so nothing can own org.freedesktop.secrets.
    const config = join(dir.path, 'session.conf');
    await writeFile(
      config,
      `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=${dir.path}</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`,
    );
    const outcome = await openIn(isolatedEnv({ XDG_RUNTIME_DIR: dir.path }), [
      'dbus-run-session',
      `--config-file=${config}`,
      '--',
    ]);
    expect(expectRefusal(outcome)).toContain('runs on the D-Bus session bus; install and start one');
  });

  it('refuses when the Secret Service has no default keyring to write to (reads alone would pass)', async () => {
    // A private bus whose gnome-keyring is started on demand (D-Bus activation) with empty data folders:
    // it answers reads, but has no "login" keyring and no way to prompt for one.
    const data = join(dir.path, 'data');
    const runtime = join(dir.path, 'run');
    await mkdir(data, { mode: 0o700 });
    await mkdir(runtime, { mode: 0o700 });
    const outcome = await openIn(isolatedEnv({ XDG_DATA_HOME: data, XDG_RUNTIME_DIR: runtime }), [
      'dbus-run-session',
      '--',
    ]);
    expect(expectRefusal(outcome)).toContain('has no default keyring to store secrets in');
  });
});
