/**
 * The app as a peer (issue 12): how long from "Join" to online, on the local overlay and on a 20-peer operator
 * overlay (made with the real CLI, headless peers); from a backend's start to online when it restarts with
 * an identity; the backend's RSS when idle and joined. Each backend is the real browser-mode host
 * (`node out/main/web.js`, built first), driven through its bridge WebSocket from Node with the renderer's
 * protocol (the requests the Join button sends, in the same order) rather than by clicks in Chromium.
 * Needs a Secret Service: `bash scripts/with-keyring.sh npm run bench -- app`.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OverlayStatus } from '../src-shared/model/overlay';
import { startHost, type HostOptions, type RunningHost } from '../test/e2e/harness';
import { LOCAL_OVERLAY_ARGS, LOOPBACK_PEER_ARGS } from '../test/e2e/app-page';
import { BridgeClient, forgetIdentities } from '../test/support/app-bridge-client';
import { secretServiceAvailable } from '../test/support/app-keychain';
import { startOperatorOverlay, type OperatorOverlay } from '../test/support/app-operator-overlay';
import { barChartSvg } from './lib/chart';
import { buildPeer } from './lib/build-peer';

const OVERLAY = 'bench.example.org';
const PASSWORD = 'bench password 1234';
/** A join that takes longer than this counts as failed (and the run goes on). */
const JOIN_BOUND_MS = 60_000;
const IDLE_MS = 10_000;

export interface AppBenchOptions {
  runs?: number | undefined;
  peers?: number | undefined;
  restarts?: number | undefined;
  log?: (line: string) => void;
}

interface Series {
  name: string;
  ms: number[];
  failures: string[];
  /** Restarts: from the spawn until the host printed its URL (serves the page), per run. */
  readyMs?: number[];
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.floor(q * s.length))] as number);
};

/** Resolves with the time the backend reported `joined` (the answer or an event, whichever came first). */
async function joinedAt(client: BridgeClient, joining: Promise<OverlayStatus>): Promise<number> {
  const event = client
    .waitForEvent('overlay.status', (s) => s.state === 'joined', JOIN_BOUND_MS)
    .then(() => Date.now());
  const answer = joining.then((s) => {
    if (s.state !== 'joined') throw new Error(`overlay.join answered ${s.state}: ${s.reason ?? ''}`);
    return Date.now();
  });
  const first = await Promise.race([event, answer]);
  event.catch(() => undefined);
  answer.catch(() => undefined);
  return first;
}

/** A run slower than this keeps its backend's log (in the temp folder) for a look at why. */
const SLOW_MS = 5_000;

/** Runs slower than SLOW_MS and the first thing their backend logged as going wrong (for the report). */
const slowRuns: string[] = [];

/** Why a run was slow, as its backend said: the first warning or failed step in its log. */
function firstTrouble(stderr: string): string {
  for (const line of stderr.split('\n')) {
    try {
      const record = JSON.parse(line) as { level?: string; msg?: string; error?: unknown };
      if (record.level === 'warn' || record.level === 'error' || /failed/.test(record.msg ?? ''))
        return `${record.msg ?? ''}${record.error ? `: ${typeof record.error === 'string' ? record.error : JSON.stringify(record.error)}` : ''}`;
    } catch {
      // not a log line
    }
  }
  return 'nothing logged at info level or above';
}

async function keepSlowLog(what: string, ms: number, host: RunningHost, log: (line: string) => void): Promise<void> {
  if (ms <= SLOW_MS) return;
  const file = join(tmpdir(), `softphone-bench-app-slow-${what}-${Date.now()}.log`);
  await writeFile(file, host.stderr());
  slowRuns.push(`${what}: ${(ms / 1000).toFixed(1)} s — ${firstTrouble(host.stderr()).slice(0, 300)}`);
  log(`    (slow: the backend's log is in ${file})`);
}

/** The host process's resident set (VmRSS), in MiB. */
async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** From the host's spawn to `joined`, for a backend that has an identity (a restart). */
async function restartToOnline(options: HostOptions): Promise<{ ms: number; readyMs: number; host: RunningHost }> {
  const host = await startHost(options);
  let client: BridgeClient | undefined;
  try {
    client = await BridgeClient.connect(host);
    const joined = client
      .waitForEvent('overlay.status', (s) => s.state === 'joined', JOIN_BOUND_MS)
      .then(() => Date.now());
    const now = await client.request('overlay.status', {});
    const at = now.state === 'joined' ? Date.now() : await joined;
    joined.catch(() => undefined);
    return { ms: at - host.startedAt, readyMs: host.readyAt - host.startedAt, host };
  } catch (error) {
    await host.stop();
    throw error;
  } finally {
    await client?.close();
  }
}

/** One local join of a fresh backend: from the first request to `joined`. */
async function localJoinOnce(user: string, dataDir?: string): Promise<{ ms: number; host: RunningHost }> {
  const host = await startHost({ ...(dataDir ? { dataDir } : {}), args: LOCAL_OVERLAY_ARGS });
  try {
    const c = await BridgeClient.connect(host);
    const t0 = Date.now();
    await c.request('identity.createSelfSigned', { overlay: { kind: 'local' }, userName: user });
    const t1 = await joinedAt(c, c.request('overlay.join', {}));
    await c.close();
    return { ms: t1 - t0, host };
  } catch (error) {
    await host.stop();
    throw error;
  }
}

/** The first backend on the LAN: it looks for others (the join window), then forms the overlay alone. */
async function localAlone(log: (l: string) => void, runs: number): Promise<Series> {
  const alone: Series = { name: 'local overlay, nobody there yet: Join → online', ms: [], failures: [] };
  for (let i = 0; i < runs; i++) {
    try {
      const { ms, host } = await localJoinOnce(`first${i}`);
      alone.ms.push(ms);
      log(`  local (alone) run ${i + 1}: ${ms} ms`);
      await keepSlowLog(`local-alone-${i + 1}`, ms, host, log);
      await forgetIdentities(host).then(() => host.stop());
    } catch (error) {
      alone.failures.push((error as Error).message);
    }
  }
  return alone;
}

async function localJoin(log: (l: string) => void, runs: number, restarts: number) {
  const joins: Series = { name: 'local overlay, one backend there: Join → online', ms: [], failures: [] };
  const restart: Series = {
    name: 'local overlay: backend start → online (restart)',
    ms: [],
    failures: [],
    readyMs: [],
  };
  let rss = NaN;
  // One backend already there, as on a LAN where someone runs the app: each run joins it.
  const anchor = await startHost({ args: LOCAL_OVERLAY_ARGS });
  try {
    const a = await BridgeClient.connect(anchor);
    await a.request('identity.createSelfSigned', { overlay: { kind: 'local' }, userName: 'anchor' });
    await joinedAt(a, a.request('overlay.join', {}));
    await a.close();
    for (let i = 0; i < runs; i++) {
      const dataDir = await mkdtemp(join(tmpdir(), 'softphone-bench-local-'));
      try {
        const { ms, host } = await localJoinOnce(`user${i}`, dataDir);
        try {
          joins.ms.push(ms);
          log(`  local run ${i + 1}: ${ms} ms`);
          await keepSlowLog(`local-${i + 1}`, ms, host, log);
          if (i === runs - 1) {
            await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
            rss = await rssMiB(host.pid);
          }
        } finally {
          if (i < runs - 1 || restarts === 0) await forgetIdentities(host);
          await host.stop();
        }
      } catch (error) {
        joins.failures.push((error as Error).message);
        log(`  local run ${i + 1} failed: ${(error as Error).message}`);
      }
      if (i === runs - 1) {
        for (let r = 0; r < restarts; r++) {
          try {
            const again = await restartToOnline({ dataDir, args: LOCAL_OVERLAY_ARGS });
            restart.ms.push(again.ms);
            restart.readyMs!.push(again.readyMs);
            log(`  local restart ${r + 1}: ${again.ms} ms (host ready after ${again.readyMs} ms)`);
            await keepSlowLog(`local-restart-${r + 1}`, again.ms, again.host, log);
            if (r === restarts - 1) await forgetIdentities(again.host);
            await again.host.stop();
          } catch (error) {
            restart.failures.push((error as Error).message);
          }
        }
      }
      await rm(dataDir, { recursive: true, force: true });
    }
  } finally {
    await forgetIdentities(anchor).then(() => anchor.stop());
  }
  return { join: joins, restart, rss };
}

async function operatorJoin(log: (l: string) => void, overlay: OperatorOverlay, runs: number, restarts: number) {
  const joins: Series = {
    name: `operator overlay (${overlay.peers.length} peers): Join → online`,
    ms: [],
    failures: [],
  };
  const restart: Series = {
    name: 'operator overlay: backend start → online (restart)',
    ms: [],
    failures: [],
    readyMs: [],
  };
  let rss = NaN;
  const options = (dataDir: string): HostOptions => ({
    dataDir,
    args: LOOPBACK_PEER_ARGS,
    env: { NODE_EXTRA_CA_CERTS: overlay.caCertFile },
  });
  for (let i = 0; i < runs; i++) {
    const dataDir = await mkdtemp(join(tmpdir(), 'softphone-bench-operator-'));
    const host = await startHost(options(dataDir));
    try {
      const c = await BridgeClient.connect(host);
      const offer = await c.request('overlay.discover', { source: overlay.configUrl });
      const chosen = {
        kind: 'operator' as const,
        offer: offer.offer,
        acceptSigner: offer.signers[0]?.fingerprint ?? '',
      };
      const t0 = Date.now();
      await c.request('identity.enroll', { overlay: chosen, userName: `user${i}`, password: PASSWORD });
      const t1 = await joinedAt(c, c.request('overlay.join', {}));
      joins.ms.push(t1 - t0);
      log(`  operator run ${i + 1}: ${t1 - t0} ms`);
      await keepSlowLog(`operator-${i + 1}`, t1 - t0, host, log);
      await c.close();
      if (i === runs - 1) {
        await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
        rss = await rssMiB(host.pid);
      }
    } catch (error) {
      joins.failures.push((error as Error).message);
      log(`  operator run ${i + 1} failed: ${(error as Error).message}`);
    }
    if (i < runs - 1 || restarts === 0) await forgetIdentities(host);
    await host.stop();
    if (i === runs - 1) {
      for (let r = 0; r < restarts; r++) {
        try {
          const again = await restartToOnline(options(dataDir));
          restart.ms.push(again.ms);
          restart.readyMs!.push(again.readyMs);
          log(`  operator restart ${r + 1}: ${again.ms} ms (host ready after ${again.readyMs} ms)`);
          await keepSlowLog(`operator-restart-${r + 1}`, again.ms, again.host, log);
          if (r === restarts - 1) await forgetIdentities(again.host);
          await again.host.stop();
        } catch (error) {
          restart.failures.push((error as Error).message);
        }
      }
    }
    await rm(dataDir, { recursive: true, force: true });
  }
  return { join: joins, restart, rss };
}

export async function runAppBench(
  options: AppBenchOptions = {},
): Promise<{ markdown: string; pngs: { file: string; svg: string }[]; failures: string[] }> {
  const log = options.log ?? ((l: string) => console.log(l));
  slowRuns.length = 0;
  const runs = options.runs ?? 10;
  const restarts = options.restarts ?? 5;
  const peers = options.peers ?? 20;
  if (!(await secretServiceAvailable()))
    throw new Error('the app bench needs a Secret Service: bash scripts/with-keyring.sh npm run bench -- app');

  const aloneRuns = Math.max(1, Math.ceil(runs / 2));
  log(`local overlay: ${aloneRuns} joins alone, ${runs} joins of another backend, ${restarts} restarts`);
  const alone = await localAlone(log, aloneRuns);
  const local = await localJoin(log, runs, restarts);

  const entryBefore = process.env.RELOAD_PEER_ENTRY;
  process.env.RELOAD_PEER_ENTRY = buildPeer();
  let operator;
  const t0 = Date.now();
  const overlay = await startOperatorOverlay({
    name: OVERLAY,
    users: Array.from({ length: runs }, (_, i) => ({ user: `user${i}@${OVERLAY}`, password: PASSWORD })),
    peers,
    batch: 4,
  });
  const overlayUp = Date.now() - t0;
  try {
    log(`operator overlay of ${peers} headless peers up in ${overlayUp} ms; ${runs} joins, ${restarts} restarts`);
    operator = await operatorJoin(log, overlay, runs, restarts);
  } finally {
    await overlay.close();
    if (entryBefore === undefined) delete process.env.RELOAD_PEER_ENTRY;
    else process.env.RELOAD_PEER_ENTRY = entryBefore;
  }

  const series = [alone, local.join, operator.join, local.restart, operator.restart];
  const row = (s: Series, target?: number) => {
    const p50 = quantile(s.ms, 0.5);
    const max = Math.max(...s.ms);
    const verdict =
      target === undefined
        ? ''
        : s.ms.length > 0 && max <= target
          ? 'met (max)'
          : p50 <= target
            ? 'met (p50), not max'
            : 'NOT met';
    return `| ${s.name} | ${s.ms.length} | ${s.failures.length} | ${(p50 / 1000).toFixed(2)} s | ${(max / 1000).toFixed(2)} s | ${target === undefined ? '—' : `≤ ${target / 1000} s: ${verdict}`} |`;
  };
  const failures = series.flatMap((s) => s.failures.map((f) => `${s.name}: ${f}`));
  const markdown = [
    '# App benchmark: joining as a peer',
    '',
    `Command: \`bash scripts/with-keyring.sh npm run bench -- app\` (bench/app.bench.ts). ${new Date().toISOString().slice(0, 10)}, Node ${process.version}.`,
    'Each backend is the real browser-mode host (`node out/main/web.js`, from the last build) with a fresh data',
    'folder and the real Secret Service, driven through its bridge WebSocket from Node with the requests the',
    'Join button sends (identity.createSelfSigned or identity.enroll, then overlay.join), not by clicks.',
    '"Join → online" runs from that first request to the first `joined` the backend reports (answer or',
    '`overlay.status` event). Local overlay: the first backend on the LAN (it looks for others during the join',
    'window, then forms the overlay alone), and backends joining one already there (mDNS on this machine).',
    `Operator overlay: made with the real CLI (init, add-user, serve) and ${peers} headless peers (JavaScript`,
    `build of peer-cli), up in ${(overlayUp / 1000).toFixed(1)} s; each run enrolls a new user (password, HTTPS)`,
    "and joins over ICE + DTLS on loopback. Restart: the last run's data folder, the host spawned again: from",
    'the spawn to `joined`, no question asked.',
    '',
    '| measure | runs | failed | p50 | max | target |',
    '|---|---:|---:|---:|---:|---|',
    row(alone, 3000),
    row(local.join, 3000),
    row(operator.join),
    row(local.restart, 2000),
    row(operator.restart, 2000),
    '',
    `Of the restart times, the process start until the host serves the page (Node, the build, the backend's`,
    `services, before the peer's join): local p50 ${(quantile(local.restart.readyMs ?? [], 0.5) / 1000).toFixed(2)} s,`,
    `operator p50 ${(quantile(operator.restart.readyMs ?? [], 0.5) / 1000).toFixed(2)} s.`,
    '',
    `Backend (main process) RSS idle, joined, ${IDLE_MS / 1000} s after joining: local overlay ${local.rss.toFixed(0)} MiB,`,
    `operator overlay ${operator.rss.toFixed(0)} MiB.`,
    '',
    ...(failures.length ? ['Failures:', '', ...failures.map((f) => `- ${f}`), ''] : []),
    ...(slowRuns.length
      ? [
          `Runs over ${SLOW_MS / 1000} s, with the first thing their backend logged as going wrong:`,
          '',
          ...slowRuns.map((r) => `- ${r}`),
          '',
        ]
      : []),
    '![join and restart times](app.png)',
    '',
  ].join('\n');
  const svg = barChartSvg(
    'Join → online and restart → online (ms, p50 and max)',
    'ms',
    series.flatMap((s) => [
      {
        label: `${s.name.split(':')[0]} ${s.name.includes('restart') ? 'restart' : 'join'} p50`,
        value: quantile(s.ms, 0.5) || 0,
      },
      {
        label: `${s.name.split(':')[0]} ${s.name.includes('restart') ? 'restart' : 'join'} max`,
        value: Math.max(0, ...s.ms),
      },
    ]),
    false,
  );
  return { markdown, pngs: [{ file: 'app.png', svg }], failures };
}
