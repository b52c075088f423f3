/**
 * SIP call setup on loopback, the same sipp scenarios over several paths in one run (issue 11's benchmark):
 * - `kamailio`: sipp UAC -> Kamailio (registrar + stateful record-routing proxy, in-memory location table) ->
 *   sipp UAS registered there; the conventional reference.
 * - `direct`: sipp UAC -> sipp UAS, no proxy; the floor.
 * - `relay-floor`: sipp UAC -> two Node processes that only forward datagrams -> sipp UAS: the floor of the overlay
 *   path's shape (the caller's and the callee's peer are two Node processes), with no SIP, DTLS or overlay work.
 * - `overlay`: 20 real peer processes on loopback, the UAS registered at peer B's local SIP interface, the UAC
 *   calling the AOR at peer A's: the first call pays lookup + AppAttach + ICE + DTLS, the others reuse the
 *   connection (reported apart, beside issue 11's targets). BENCH_SIP_PATHS=overlay,kamailio runs only those.
 * A path is a `SipBenchPath`: it starts what it needs, registers the callee, and says where the UAC sends its
 * INVITEs. For each path: `calls` calls at `rate` calls/s, INVITE->180 (post-dial delay) and
 * INVITE->200 per call from sipp's µs message trace (as /work/shared/anchors/sip_bench.py), p50/p95/p99; then,
 * for the paths in `maxRatePaths`, rate steps of `stepSecs` each until the first failing step (the anchor's
 * pass rule), with the path's processes' memory before and after. Every process is started here and stopped
 * by its pid, also on error; every loop is bounded by call count and timeout.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OverlayDir } from '../src-main/host/overlay/overlay-dir';
import { exportIdentity, generateIdentityKeys, issueCertificate } from '../src-main/reload/identity';
import { Kamailio, kamailioVersion } from '../test/support/kamailio';
import { PeerProcess } from '../test/support/peer-process';
import {
  freeLoopbackPort,
  LOOPBACK,
  latencyStats,
  sippVersion,
  SippProcess,
  SIPP_SCENARIOS,
  type LatencyStats,
  type SippOptions,
  type SippResult,
} from '../test/support/sipp';
import { buildPeer } from './lib/build-peer';
import { barChartSvg } from './lib/chart';

export interface SipPathContext {
  /** The callee UAS's SIP port on 127.0.0.1: the path registers it (before the UAS starts answering there). */
  uasPort: number;
  /** The callee's user name (the AOR's user part, sipp `-s`). */
  callee: string;
  /** Sends one REGISTER of `service` (default `callee`) from the UAS's port to `remote` (Contact = the UAS). */
  register(remote: string, domain?: string, service?: string): Promise<void>;
  log(line: string): void;
}

export interface StartedSipPath {
  /** `host:port` the UAC sends its INVITEs to. */
  target: string;
  /** The Request-URI's domain ([domain]; default `target`). */
  domain?: string;
  /** The caller's user name ([caller]; default sipp's `uac`). */
  caller?: string;
  /**
   * Further AORs, each registered (to the same UAS) at a peer no call has gone to yet: one call to each is a
   * first call (lookup + AppAttach + ICE + DTLS), for a p50 of first calls. Overlay path only.
   */
  firstCallServices?: string[];
  /** The processes that carry the calls (their memory is reported); none for `direct`. */
  pids(): number[];
  /** What ran, for the report (versions, workers). */
  detail: string;
  stop(): Promise<void>;
}

export interface SipBenchPath {
  name: string;
  /** One line for the report: what the calls go through. */
  description: string;
  start(ctx: SipPathContext): Promise<StartedSipPath>;
}

export interface SipBenchOptions {
  paths?: SipBenchPath[];
  /** Calls per path in the setup-time test (default 200) at `rate` calls/s (default 10). */
  calls?: number;
  rate?: number;
  /** Paths that get the max-rate step test (default ['kamailio', 'kamailio-1w', 'overlay']). */
  maxRatePaths?: string[];
  /** Target rates in calls/s (default 100,200,400,800,1200,1600), `stepSecs` each (default 5). */
  steps?: number[];
  stepSecs?: number;
  log?: (line: string) => void;
}

export interface SetupRun {
  path: string;
  calls: number;
  successful: number;
  failed: number;
  retransmissions: number;
  reordered: number;
  inviteTo180: LatencyStats;
  inviteTo200: LatencyStats;
  /** The run's first call (for the overlay: the lookup + AppAttach one), ms. */
  first180?: number;
  first200?: number;
  /** One call to each of `firstCallServices` (each a first call to its peer), ms. */
  firstCalls180?: LatencyStats;
  firstCalls200?: LatencyStats;
  /** The calls after the first (for the overlay: over the connection the first call opened). */
  repeat180: LatencyStats;
  repeat200: LatencyStats;
  /** The path's processes' memory before and after the setup-time calls. */
  memoryBeforeKb: MemoryKb;
  memoryAfterKb: MemoryKb;
  rtd180: LatencyStats;
  rtd200: LatencyStats;
  machineBusyPct: number;
  errors: string[];
}

export interface RateStep {
  target: number;
  calls: number;
  successful: number;
  failed: number;
  reordered: number;
  retransmissions: number;
  achievedCps: number;
  /** sipp RTD INVITE->200 (ms granularity). */
  rtd200: LatencyStats;
  pathCpuPct: number;
  machineBusyPct: number;
  pass: boolean;
}

export interface SipBenchResult {
  sipp: string;
  kamailio: string;
  paths: { name: string; description: string; detail: string }[];
  setup: SetupRun[];
  maxRate: {
    path: string;
    steps: RateStep[];
    best?: number;
    memoryBeforeKb: MemoryKb;
    memoryAfterKb: MemoryKb;
  }[];
  failures: string[];
  markdown: string;
  pngs: { file: string; svg: string }[];
}

interface MemoryKb {
  rss: number;
  pss: number;
}

const CALLEE = 'bob';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Kamailio as the registrar and proxy (test/support/kamailio.ts; the anchor's configuration). `kamailio` has 4
 * UDP workers (the anchor's reference figures); `kamailio-1w` has one, like-for-like with one Node process, and
 * never lets a 200 overtake its 180.
 */
export function kamailioPath(children = 4, shmMb = 512): SipBenchPath {
  return {
    name: children === 4 ? 'kamailio' : `kamailio-${children}w`,
    description: `sipp UAC → Kamailio, ${children} UDP worker${children === 1 ? '' : 's'} (registrar, usrloc in memory, tm, rr) → sipp UAS`,
    async start(ctx) {
      const k = await Kamailio.start({ children, shmMb });
      try {
        await ctx.register(k.address);
      } catch (error) {
        await k.stop();
        throw error;
      }
      return {
        target: k.address,
        pids: () => k.pids(),
        detail: `-m ${shmMb} MB shm, -M 8 MB pkg`,
        stop: () => k.stop(),
      };
    },
  };
}

/** sipp calling sipp: no proxy, the floor of every other path. */
export function directPath(): SipBenchPath {
  return {
    name: 'direct',
    description: 'sipp UAC → sipp UAS (no proxy)',
    start(ctx) {
      return Promise.resolve({
        target: `${LOOPBACK}:${ctx.uasPort}`,
        pids: () => [],
        detail: '',
        stop: () => Promise.resolve(),
      });
    },
  };
}

/**
 * sipp calling sipp through `hops` Node processes that only forward datagrams (bench/lib/udp-relay.ts): what any
 * design pays for passing a call through that many Node processes on this host, before doing any work.
 */
export function relayPath(hops = 2): SipBenchPath {
  if (!(Number.isInteger(hops) && hops >= 1 && hops <= 8)) throw new RangeError(`sip bench: bad relay hops ${hops}`);
  return {
    name: hops === 2 ? 'relay-floor' : `relay-${hops}`,
    description: `sipp UAC → ${hops} Node processes that only forward UDP datagrams → sipp UAS (no SIP, DTLS or overlay work)`,
    async start(ctx) {
      const ports: number[] = [];
      for (let i = 0; i < hops; i++) ports.push(await freeLoopbackPort());
      const children: ChildProcess[] = [];
      const stop = async () => {
        await Promise.all(
          children.map((c) =>
            c.exitCode !== null || c.signalCode !== null
              ? undefined
              : new Promise<void>((resolve) => {
                  c.once('exit', () => resolve());
                  c.kill('SIGTERM');
                }),
          ),
        );
      };
      try {
        // The last relay first, so that every relay's next hop is listening before anything reaches it.
        for (let i = hops - 1; i >= 0; i--) {
          const next = i === hops - 1 ? ctx.uasPort : ports[i + 1]!;
          const child = fork(
            fileURLToPath(new URL('./lib/udp-relay.ts', import.meta.url)),
            [String(ports[i]), String(next)],
            {
              execArgv: ['--import', 'tsx'],
              stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
            },
          );
          children.push(child);
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('udp relay did not start within 10 s')), 10_000);
            child.once('message', () => (clearTimeout(timer), resolve()));
            child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`udp relay exited with ${code}`))));
          });
        }
      } catch (e) {
        await stop();
        throw e;
      }
      return {
        target: `${LOOPBACK}:${ports[0]}`,
        pids: () => children.map((c) => c.pid!).filter(Boolean),
        detail: `Node ${process.versions.node}`,
        stop,
      };
    },
  };
}

const OVERLAY = 'sip.example.org';
const PEER_READY_MS = 60_000;

/**
 * The overlay: `peers` real peer processes (`npm run peer`, ICE + DTLS on loopback, CA-issued identities), the
 * callee's peer B (whose certificate carries the user `callee`) and the caller's peer A each with a local SIP
 * interface. The UAS registers at B's interface, the UAC calls the AOR at A's: A looks the AOR up in the overlay,
 * attaches to B (AppAttach, ICE, DTLS) on the first call and reuses that connection for the others. No SIP server.
 * `firstCalls` further peers carry users `first<i>`, registered to the same UAS: one call to each is a first call.
 */
export function overlayPath(peers = 20, firstCalls = 10): SipBenchPath {
  if (!(Number.isInteger(peers) && peers >= 3 && peers <= 50)) throw new RangeError(`sip bench: bad peers ${peers}`);
  const a = 1;
  const b = Math.floor(peers / 2);
  const candidates = Array.from({ length: peers }, (_, i) => i).filter((i) => i !== 0 && i !== a && i !== b);
  if (!(Number.isInteger(firstCalls) && firstCalls >= 0 && firstCalls <= candidates.length))
    throw new RangeError(`sip bench: bad firstCalls ${firstCalls} (at most ${candidates.length} with ${peers} peers)`);
  // Spread over the ring: first calls then route over different numbers of hops.
  const firsts = Array.from(
    { length: firstCalls },
    (_, k) => candidates[Math.floor((k * candidates.length) / firstCalls)]!,
  );
  return {
    name: 'overlay',
    description: `sipp UAC → peer A's local SIP interface → overlay of ${peers} peer processes (lookup, AppAttach, ICE, DTLS) → peer B's interface → sipp UAS`,
    async start(ctx) {
      const dir = mkdtempSync(join(tmpdir(), 'reload-sip-bench-'));
      const procs: PeerProcess[] = [];
      // Even if the bench dies between start and stop, no peer outlives it.
      const killAll = () => {
        for (const p of procs) if (!p.exited) p.child.kill('SIGKILL');
      };
      process.once('exit', killAll);
      const stop = async () => {
        await Promise.all(procs.map((p) => p.kill('SIGTERM')));
        process.removeListener('exit', killAll);
        rmSync(dir, { recursive: true, force: true });
      };
      const entryBefore = process.env.RELOAD_PEER_ENTRY;
      try {
        process.env.RELOAD_PEER_ENTRY = buildPeer();
        const bootstrap = await freeLoopbackPort();
        const overlay = await OverlayDir.init(join(dir, 'overlay'), {
          overlay: OVERLAY,
          bootstrapNodes: [{ address: LOOPBACK, port: bootstrap }],
        });
        const sipPorts = new Map<number, number>();
        const users: string[] = [];
        const args: string[][] = [];
        for (let i = 0; i < peers; i++) {
          const keys = await generateIdentityKeys('ecdsa');
          const nodeId = Uint8Array.from({ length: 16 }, () => Math.floor(Math.random() * 256));
          users.push(i === b ? ctx.callee : firsts.includes(i) ? `first${i}` : `peer${i}`);
          const { der } = await issueCertificate({
            ca: overlay.ca,
            publicKey: keys.webcrypto.publicKey,
            userName: `${users[i]}@${OVERLAY}`,
            nodeIds: [nodeId],
            overlay: OVERLAY,
            validDays: 2,
          });
          const file = join(dir, `peer${i}.identity`);
          writeFileSync(file, exportIdentity(keys.privateKey, [der], 'bench-password'));
          writeFileSync(`${file}.password`, 'bench-password\n');
          const x = ['--config', overlay.path('config'), '--identity', file, '--password-file', `${file}.password`];
          x.push('--host-address', LOOPBACK, '--status-interval', '0');
          x.push(
            ...(i === 0 ? ['--first-node', '--listen', `${LOOPBACK}:${bootstrap}`] : ['--listen', `${LOOPBACK}:0`]),
          );
          args.push(x);
        }
        const sipPeers = new Set([a, b, ...firsts]);
        // A SIP port is picked just before its peer starts, and again if another process took it meanwhile
        // (every running peer binds ephemeral UDP ports for ICE).
        const launch = async (i: number): Promise<void> => {
          for (let attempt = 1; ; attempt++) {
            const port = sipPeers.has(i) ? await freeLoopbackPort(true) : undefined;
            const p = new PeerProcess([...args[i]!, ...(port ? ['--sip-port', String(port)] : [])]);
            procs.push(p);
            try {
              await p.event('ready', PEER_READY_MS);
              if (port) sipPorts.set(i, port);
              peerAt.set(i, p);
              return;
            } catch (error) {
              if (attempt >= 3 || !p.stderr.some((l) => l.includes('is in use'))) throw error;
            }
          }
        };
        const peerAt = new Map<number, PeerProcess>();
        const t0 = performance.now();
        await launch(0);
        // The others in batches of 5: joins overlap, as in the field, without starving 2 cores.
        for (let i = 1; i < peers; i += 5)
          await Promise.all(Array.from({ length: Math.min(5, peers - i) }, (_, k) => launch(i + k)));
        for (const i of sipPeers) await peerAt.get(i)!.event('sip');
        ctx.log(`  ${peers} peers ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        await sleep(5_000); // the last joins' Updates and stabilization settle before the calls are timed
        // While the ring still settles a Store may fail: register again, a bounded number of times.
        for (let attempt = 1; ; attempt++) {
          try {
            await ctx.register(`${LOOPBACK}:${sipPorts.get(b)}`, OVERLAY);
            break;
          } catch (error) {
            if (attempt >= 10) throw error;
            await sleep(1_000);
          }
        }
        for (const i of firsts) await ctx.register(`${LOOPBACK}:${sipPorts.get(i)}`, OVERLAY, users[i]);
        const pa = peerAt.get(a)!.child.pid!;
        const pb = peerAt.get(b)!.child.pid!;
        return {
          target: `${LOOPBACK}:${sipPorts.get(a)}`,
          domain: OVERLAY,
          caller: users[a],
          firstCallServices: firsts.map((i) => users[i]!),
          pids: () => [pa, pb],
          detail: `${peers} peers (node peer-cli.mjs, bundled by esbuild), A = peer${a}, B = peer${b}; memory = A + B`,
          stop,
        };
      } catch (error) {
        await stop();
        throw error;
      } finally {
        if (entryBefore === undefined) delete process.env.RELOAD_PEER_ENTRY;
        else process.env.RELOAD_PEER_ENTRY = entryBefore;
      }
    },
  };
}

const TCK = 100; // USER_HZ on Linux
function cpuSeconds(pids: number[]): number {
  let s = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      s += (Number(f[11]) + Number(f[12])) / TCK;
    } catch {
      // gone
    }
  }
  return s;
}

/** RSS summed over the processes, and PSS (shared memory counted once across Kamailio's processes). */
function memoryKb(pids: number[]): MemoryKb {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    try {
      rss += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return { rss, pss };
}

function machineCpu(): { idle: number; total: number } {
  const f = (/^cpu\s+(.*)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? '').split(/\s+/).map(Number);
  return { idle: (f[3] ?? 0) + (f[4] ?? 0), total: f.slice(0, 8).reduce((a, x) => a + x, 0) };
}
const busyBetween = (a: { idle: number; total: number }, b: { idle: number; total: number }) =>
  100 * (1 - (b.idle - a.idle) / Math.max(1, b.total - a.total));

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

export async function runSipBench(options: SipBenchOptions = {}): Promise<SipBenchResult> {
  const log = options.log ?? console.log;
  const sipp = sippVersion();
  const kamailio = kamailioVersion();
  if (!sipp) throw new Error('sipp not found: install Debian sip-tester (.ci/run does)');
  // BENCH_SIP_PATHS=overlay,kamailio: only those of the default paths (the whole run takes a few minutes).
  const only = process.env.BENCH_SIP_PATHS?.split(',').map((x) => x.trim());
  const paths =
    options.paths ??
    [kamailioPath(4), kamailioPath(1), directPath(), relayPath(2), overlayPath(20)].filter(
      (p) => !only || only.includes(p.name),
    );
  if (only && paths.length === 0) throw new RangeError(`sip bench: BENCH_SIP_PATHS names no path: ${only.join(',')}`);
  if (paths.some((p) => p.name.startsWith('kamailio')) && !kamailio)
    throw new Error('kamailio not found: install Debian kamailio (.ci/run does)');
  const calls = options.calls ?? 200;
  const rate = options.rate ?? 10;
  const steps = options.steps ?? [100, 200, 400, 800, 1200, 1600];
  const stepSecs = options.stepSecs ?? 5;
  const maxRatePaths = options.maxRatePaths ?? ['kamailio', 'kamailio-1w', 'overlay'];
  for (const [name, v] of [
    ['calls', calls],
    ['rate', rate],
    ['stepSecs', stepSecs],
    ...steps.map((x) => ['steps', x] as const),
  ] as const)
    if (!(Number.isFinite(v) && v > 0 && v <= 100_000)) throw new RangeError(`sip bench: bad ${name} ${v}`);
  const result: SipBenchResult = {
    sipp,
    kamailio: kamailio ?? 'not installed',
    paths: [],
    setup: [],
    maxRate: [],
    failures: [],
    markdown: '',
    pngs: [],
  };

  for (const path of paths) {
    const uasPort = await freeLoopbackPort();
    const ctx: SipPathContext = {
      uasPort,
      callee: CALLEE,
      log,
      async register(remote, domain, service = CALLEE) {
        const r = await SippProcess.run({
          scenario: SIPP_SCENARIOS.register,
          remote,
          domain,
          service,
          localPort: uasPort,
          calls: 1,
          timeoutMs: 10_000,
        });
        if (r.successful !== 1) throw new Error(`REGISTER ${service} at ${remote} failed: ${r.errors.join(' | ')}`);
      },
    };
    let started: StartedSipPath | undefined;
    let uas: SippProcess | undefined;
    try {
      log(`== path ${path.name}: ${path.description}`);
      started = await path.start(ctx);
      result.paths.push({ name: path.name, description: path.description, detail: started.detail });
      const budgetMs = (calls / rate + 60 + (steps.length * (stepSecs * 3 + 25) + 60)) * 1000;
      uas = await SippProcess.start({ scenario: SIPP_SCENARIOS.uas, localPort: uasPort, timeoutMs: budgetMs });
      await sleep(300);
      const uac = (extra: Partial<SippOptions>) =>
        SippProcess.run({
          scenario: SIPP_SCENARIOS.uac,
          remote: started!.target,
          domain: started!.domain,
          caller: started!.caller,
          service: CALLEE,
          timeoutMs: 60_000,
          ...extra,
        });

      // ---- call setup time at a modest rate, per-call timings from the message trace
      log(`setup time: ${calls} calls at ${rate} calls/s`);
      const m0 = machineCpu();
      const memoryBeforeKb = memoryKb(started.pids());
      const r = await uac({
        calls,
        rate,
        timeoutMs: (calls / rate + 30) * 1000,
        recvTimeoutMs: 10_000,
        traceMessages: true,
      });
      const memoryAfterKb = memoryKb(started.pids());
      const byStart = [...r.calls].sort((a, b) => (a.inviteSent ?? Infinity) - (b.inviteSent ?? Infinity));
      const took = (call: (typeof byStart)[number] | undefined, code: number) => {
        const t = call?.responses.get(code);
        return t !== undefined && call?.inviteSent !== undefined ? 1000 * (t - call.inviteSent) : undefined;
      };
      const at = (code: number) => took(byStart[0], code);
      const repeat = (code: number) => latencyStats(byStart.slice(1).flatMap((c) => took(c, code) ?? []));
      const run: SetupRun = {
        path: path.name,
        calls,
        successful: r.successful,
        failed: r.failed,
        retransmissions: r.retransmissions,
        reordered: r.reordered200Before180,
        inviteTo180: latencyStats(r.inviteTo180Ms),
        inviteTo200: latencyStats(r.inviteTo200Ms),
        first180: at(180),
        first200: at(200),
        repeat180: repeat(180),
        repeat200: repeat(200),
        memoryBeforeKb,
        memoryAfterKb,
        rtd180: latencyStats(r.rtdMs[1] ?? []),
        rtd200: latencyStats(r.rtdMs[2] ?? []),
        machineBusyPct: busyBetween(m0, machineCpu()),
        errors: r.errors.slice(0, 5),
      };
      // ---- first calls: one to each further AOR, each at a peer not called before (sequential, traced)
      if (started.firstCallServices?.length) {
        const f180: number[] = [];
        const f200: number[] = [];
        for (const service of started.firstCallServices) {
          const f = await uac({ service, calls: 1, timeoutMs: 30_000, recvTimeoutMs: 10_000, traceMessages: true });
          const call = f.calls[0];
          const t180 = took(call, 180);
          const t200 = took(call, 200);
          if (f.successful !== 1 || t180 === undefined || t200 === undefined)
            run.errors.push(`first call to ${service}: ${f.errors[0] ?? `exit ${f.exitCode}`}`);
          if (t180 !== undefined) f180.push(t180);
          if (t200 !== undefined) f200.push(t200);
        }
        run.firstCalls180 = latencyStats(f180);
        run.firstCalls200 = latencyStats(f200);
        log(
          `  first calls to ${started.firstCallServices.length} peers: INVITE->180 p50 ${fmt(run.firstCalls180.p50)} ms, max ${fmt(run.firstCalls180.max)} ms`,
        );
      }
      result.setup.push(run);
      log(
        `  ${run.successful} ok / ${run.failed} failed (${run.reordered} 200-before-180), INVITE->180 p50 ${fmt(run.inviteTo180.p50)} ms, INVITE->200 p50 ${fmt(run.inviteTo200.p50)} ms`,
      );

      // ---- max sustained rate, bounded steps
      if (maxRatePaths.includes(path.name)) {
        const memoryBeforeKb = memoryKb(started.pids());
        const done: RateStep[] = [];
        for (const target of steps) {
          await sleep(3000); // the UAS's 2 s timewait of the previous calls drains
          const n = target * stepSecs;
          const pids = started.pids();
          const c0 = cpuSeconds(pids);
          const mc0 = machineCpu();
          const t0 = performance.now();
          const s: SippResult = await uac({
            calls: n,
            rate: target,
            maxConcurrent: Math.max(100, target * 2),
            timeoutMs: (stepSecs * 3 + 20) * 1000,
          });
          const dt = (performance.now() - t0) / 1000;
          const reord = s.reordered200Before180;
          const achieved = s.successful / dt;
          const step: RateStep = {
            target,
            calls: n,
            successful: s.successful,
            failed: s.failed,
            reordered: reord,
            retransmissions: s.retransmissions,
            achievedCps: achieved,
            rtd200: latencyStats(s.rtdMs[2] ?? []),
            pathCpuPct: (100 * (cpuSeconds(pids) - c0)) / dt,
            machineBusyPct: busyBetween(mc0, machineCpu()),
            // The anchor's rule: no failure except <= 1% aborted by sipp for a 200 that overtook its 180, all
            // calls completed, >= 95% of the target rate (allowing sipp's start-up, 0.6 s).
            pass:
              s.failed - reord === 0 &&
              reord <= 0.01 * n &&
              s.successful + reord === n &&
              achieved >= 0.95 * target * (stepSecs / (stepSecs + 0.6)),
          };
          done.push(step);
          log(
            `  max-rate ${target} calls/s: ${s.successful}/${n} ok, ${s.failed} failed (${reord} reordered), ${achieved.toFixed(0)} calls/s, ${step.pass ? 'PASS' : 'FAIL'}`,
          );
          if (!step.pass) break;
        }
        result.maxRate.push({
          path: path.name,
          steps: done,
          best: [...done].reverse().find((s) => s.pass)?.target,
          memoryBeforeKb,
          memoryAfterKb: memoryKb(started.pids()),
        });
      }
    } catch (error) {
      const message = `${path.name}: ${(error as Error).message}`;
      result.failures.push(message);
      log(`  FAILED ${message}`);
    } finally {
      await uas?.stop();
      await started?.stop();
    }
  }
  result.markdown = report(result, { calls, rate, stepSecs, steps });
  result.pngs = charts(result);
  return result;
}

const fmt = (x: number | undefined, digits = 2) => (x === undefined ? '–' : x.toFixed(digits));

function report(r: SipBenchResult, o: { calls: number; rate: number; stepSecs: number; steps: number[] }): string {
  const kam = r.setup.find((s) => s.path === 'kamailio');
  const ratio = (s: SetupRun) =>
    kam?.inviteTo180.p50 && s.inviteTo180.p50 !== undefined && s.path !== 'kamailio'
      ? `${(s.inviteTo180.p50 / kam.inviteTo180.p50).toFixed(2)}×`
      : '–';
  const lines = [
    '# SIP call setup benchmark',
    '',
    `Machine: ${machine()}. Command: \`npm run bench -- sip\` (bench/sip.bench.ts). ${r.sipp.replace(/\.$/, '')}; ${r.kamailio}.`,
    'Loopback UDP only. The same sipp scenarios on every path (test/support/sipp-scenarios/, from',
    '/work/shared/anchors/sip/): a UAS that registers and answers every INVITE with 180 then 200 at once, and a UAC',
    "that sends INVITE, waits for 180 and 200, ACKs and hangs up at once. Timings per call from the UAC's message",
    "trace (µs timestamps), as /work/shared/anchors/sip_bench.py; sipp's own RTD counters are ms-granular and shown",
    'for reference. The sipp UAS adds about 1.1 ms between its 180 and its 200 on every path.',
    '',
    `Paths that ran: ${r.paths.map((p) => `**${p.name}** (${p.description}${p.detail ? `; ${p.detail}` : ''})`).join(', ') || 'none'}.`,
    ...(r.failures.length ? ['', `**Failed:** ${r.failures.join('; ')}`] : []),
    '',
    `## Call setup time: ${o.calls} calls per path at ${o.rate} calls/s (ms)`,
    '',
    '| path | metric | n | p50 | p95 | p99 | max | mean | first call | p50 vs kamailio | calls ok / failed (200 before 180), retrans | host busy |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  ];
  for (const s of r.setup) {
    const row = (metric: string, st: LatencyStats, first: number | undefined, vs: string) =>
      `| ${s.path} | ${metric} | ${st.n} | ${fmt(st.p50)} | ${fmt(st.p95)} | ${fmt(st.p99)} | ${fmt(st.max)} | ${fmt(st.mean)} | ${fmt(first)} | ${vs} | ${s.successful} / ${s.failed} (${s.reordered}), ${s.retransmissions} | ${s.machineBusyPct.toFixed(0)} % |`;
    lines.push(row('INVITE→180', s.inviteTo180, s.first180, ratio(s)));
    lines.push(row('INVITE→200', s.inviteTo200, s.first200, '–'));
    lines.push(
      `| ${s.path} | sipp RTD →180 / →200 | ${s.rtd180.n} | ${fmt(s.rtd180.p50)} / ${fmt(s.rtd200.p50)} | ${fmt(s.rtd180.p95)} / ${fmt(s.rtd200.p95)} | ${fmt(s.rtd180.p99)} / ${fmt(s.rtd200.p99)} | | | | | | |`,
    );
  }
  lines.push(
    '',
    "Memory of each path's processes (RSS sum) before → after these calls: " +
      (r.setup
        .filter((s) => s.memoryBeforeKb.rss > 0)
        .map(
          (s) =>
            `${s.path} ${(s.memoryBeforeKb.rss / 1024).toFixed(1)} → ${(s.memoryAfterKb.rss / 1024).toFixed(1)} MB`,
        )
        .join(', ') || 'none measured') +
      '.',
  );
  const ov = r.setup.find((s) => s.path === 'overlay');
  if (ov) {
    const bound = kam?.inviteTo180.p50 !== undefined ? 1.5 * kam.inviteTo180.p50 : undefined;
    const f = ov.firstCalls180;
    const firstP50 = f?.p50 ?? ov.first180;
    const ovRate = r.maxRate.find((m) => m.path === 'overlay');
    const relay = r.setup.find((s) => s.path === 'relay-floor');
    const step200 = ovRate?.steps.find((s) => s.target === 200);
    const met = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? '**met**' : '**NOT met**');
    lines.push(
      '',
      "## Issue 11's targets (overlay path, this run)",
      '',
      '| target | bound | overlay | result |',
      '|---|---:|---:|---|',
      `| repeat calls (2nd..${ov.calls}th, over the open connection): INVITE→180 p50 within 1.5× Kamailio's | ${fmt(bound)} ms (1.5 × ${fmt(kam?.inviteTo180.p50)}) | ${fmt(ov.repeat180.p50)} ms (p95 ${fmt(ov.repeat180.p95)}, p99 ${fmt(ov.repeat180.p99)}; INVITE→200 p50 ${fmt(ov.repeat200.p50)}) | ${met(bound !== undefined && ov.repeat180.p50 !== undefined ? ov.repeat180.p50 <= bound : undefined)} |`,
      `| (context, not a target) the floor of this path's shape: sipp through two Node processes that only forward datagrams (relay-floor) | – | ${relay ? `${fmt(relay.inviteTo180.p50)} ms, which leaves ${fmt(bound !== undefined && relay.inviteTo180.p50 !== undefined ? bound - relay.inviteTo180.p50 : undefined)} ms of the bound for both peers' SIP, DTLS and overlay work` : 'not run'} | – |`,
      f
        ? `| first calls (lookup + AppAttach + ICE + DTLS), one to each of ${f.n} peers: INVITE→180 p50 < 150 ms | 150 ms | ${fmt(f.p50)} ms (p95 ${fmt(f.p95)}, max ${fmt(f.max)}; INVITE→200 p50 ${fmt(ov.firstCalls200?.p50)}; the run's very first call ${fmt(ov.first180)}) | ${met(firstP50 !== undefined ? firstP50 < 150 : undefined)} |`
        : `| first call (lookup + AppAttach + ICE + DTLS): INVITE→180 < 150 ms | 150 ms | ${fmt(ov.first180)} ms (one sample) | ${met(ov.first180 !== undefined ? ov.first180 < 150 : undefined)} |`,
      `| 200 calls/s through one peer (A, and B), ${r.maxRate.length ? 'a max-rate step' : 'not run'}: 0 failures | 200 calls/s | ${step200 ? `${step200.achievedCps.toFixed(0)} calls/s achieved, ${step200.successful} ok / ${step200.failed} failed, path CPU ${step200.pathCpuPct.toFixed(0)} %` : ovRate ? `not reached (last passing step ${ovRate.best ?? 'none'})` : '–'} | ${met(step200 ? step200.pass : ovRate ? false : undefined)} |`,
      '',
      `Peer memory (A + B RSS) before → after the ${ov.calls} calls: ${(ov.memoryBeforeKb.rss / 1024).toFixed(1)} → ${(ov.memoryAfterKb.rss / 1024).toFixed(1)} MB` +
        (ovRate
          ? `; before → after the max-rate steps: ${(ovRate.memoryBeforeKb.rss / 1024).toFixed(1)} → ${(ovRate.memoryAfterKb.rss / 1024).toFixed(1)} MB.`
          : '.'),
    );
  }
  const errs = r.setup.filter((s) => s.errors.length);
  if (errs.length) lines.push('', ...errs.map((s) => `${s.path} errors (first 5): ${s.errors.join(' | ')}`));
  lines.push(
    '',
    `## Max call rate: steps of ${o.stepSecs} s (${o.steps.join(', ')} calls/s) until the first failing step`,
    '',
    "PASS (the anchor's rule): no failed call except at most 1 % that sipp aborted because a 200 OK came before its",
    '180 (overtaken in a multi-worker proxy, or the 180 lost to a full UDP socket buffer: a real UA would not',
    'abort), every call completed, at least 95 % of the target rate. INVITE→200 from sipp RTD (ms granularity).',
    '"path CPU" sums every process of the path, in % of one core; "host busy" is all cores, this run included.',
    '',
  );
  if (r.maxRate.length === 0) lines.push('Not run.');
  else {
    lines.push(
      '| path | target calls/s | achieved | ok | failed | 200 before 180 | retrans | →200 p50 | →200 p95 | →200 p99 | path CPU | host busy | result |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    );
    for (const m of r.maxRate)
      for (const s of m.steps)
        lines.push(
          `| ${m.path} | ${s.target} | ${s.achievedCps.toFixed(0)} | ${s.successful} | ${s.failed} | ${s.reordered} | ${s.retransmissions} | ${fmt(s.rtd200.p50, 0)} | ${fmt(s.rtd200.p95, 0)} | ${fmt(s.rtd200.p99, 0)} | ${s.pathCpuPct.toFixed(0)} % | ${s.machineBusyPct.toFixed(0)} % | ${s.pass ? 'PASS' : 'FAIL'} |`,
        );
    lines.push('');
    for (const m of r.maxRate)
      lines.push(
        `- ${m.path}: max sustained (last passing step) **${m.best ?? 'none'} calls/s**; memory of its processes before → after the steps: PSS ${(m.memoryBeforeKb.pss / 1024).toFixed(1)} → ${(m.memoryAfterKb.pss / 1024).toFixed(1)} MB, RSS sum ${(m.memoryBeforeKb.rss / 1024).toFixed(1)} → ${(m.memoryAfterKb.rss / 1024).toFixed(1)} MB.`,
      );
  }
  lines.push(
    '',
    'Reference (anchor README, same machine kind, 4 Kamailio workers, 300 calls at 10 calls/s): Kamailio INVITE→180',
    'p50 1.00–1.17 ms, INVITE→200 p50 2.12–2.34 ms; sipp direct INVITE→180 p50 0.18 ms. Compare only figures from',
    'the same run: the host is shared and its load ("host busy", all cores) is shown beside each figure.',
    '',
    '![INVITE→180 and INVITE→200 per path](sip.png)',
    '',
  );
  return lines.join('\n');
}

function charts(r: SipBenchResult): { file: string; svg: string }[] {
  const bars: { label: string; value: number }[] = [];
  for (const s of r.setup) {
    const candidates: [string, number | undefined][] = [
      ['INVITE→180 p50', s.inviteTo180.p50],
      ['INVITE→180 p99', s.inviteTo180.p99],
      ['INVITE→200 p50', s.inviteTo200.p50],
      ['INVITE→200 p99', s.inviteTo200.p99],
    ];
    for (const [label, value] of candidates)
      if (value !== undefined && value > 0) bars.push({ label: `${s.path} ${label}`, value });
  }
  return bars.length
    ? [{ file: 'sip.png', svg: barChartSvg('SIP call setup on loopback (ms, log scale)', 'ms', bars) }]
    : [];
}
