/**
 * sipp (Debian package `sip-tester`) as a SIP user agent in the tests and benchmarks: start it with one of the
 * scenarios under test/support/sipp-scenarios/ on 127.0.0.1, bounded by a call count and a hard timeout (killed when it
 * runs over), then read its results: successful and failed calls from its statistics CSV (`-trace_stat`),
 * aborted calls from its error log (`-trace_err`), and per-call timings from its message trace (`-trace_msg`,
 * µs timestamps; its RTD counters from `-trace_rtt` are kept too, but they are only ms-granular).
 * The trace-derived INVITE->180 and INVITE->200 follow /work/shared/anchors/sip_bench.py, so figures from both
 * mean the same thing. Every process is started here, tracked, and stopped by its pid (also when the test
 * process exits).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export const SIPP = process.env.SIPP_PATH ?? 'sipp';
export const LOOPBACK = '127.0.0.1';

/** Our scenarios (copied or adapted from /work/shared/anchors/sip/; each file names its origin). */
export const SIPP_SCENARIOS = {
  /** REGISTER [service]@[domain], Contact = this sipp's ip:port; run from the UAS's port. */
  register: scenarioPath('register.xml'),
  /** register.xml with Supported: gruu and +sip.instance [instance]; logs the 200's pub-gruu (-trace_logs). */
  registerGruu: scenarioPath('register-gruu.xml'),
  /** REGISTER [service]@[domain] with Contact: * and Expires: 0 (removes every binding of the AOR). */
  unregisterAll: scenarioPath('unregister-all.xml'),
  /** uac.xml to the URI [ruri] (e.g. a GRUU) instead of [service]@[domain]. */
  uacToUri: scenarioPath('uac-gruu.xml'),
  /** INVITE [service]@[domain], 180, 200, ACK, BYE. */
  uac: scenarioPath('uac.xml'),
  /** INVITE [service]@[domain] that must be answered 404, then ACK. */
  uac404: scenarioPath('uac-404.xml'),
  /** Answers every INVITE 180 then 200, then waits for ACK and BYE (server mode). */
  uas: scenarioPath('uas.xml'),
  /** uac.xml for an AOR registered by two UASes: a second 180 (the other branch) is accepted. */
  uacFork: scenarioPath('uac-fork.xml'),
  /** One branch of a forked call: 180, then 200 after 300 ms unless CANCELled first (then 200 + 487).
   * RTD 1 counts the calls it answered, RTD 2 the calls cancelled here. */
  uasForkAnswer: scenarioPath('uas-fork-answer.xml'),
  /** The same, answering only after 10 s: beside uasForkAnswer it is always the cancelled branch. */
  uasForkRing: scenarioPath('uas-fork-ring.xml'),
} as const;

function scenarioPath(file: string): string {
  return new URL(`./sipp-scenarios/${file}`, import.meta.url).pathname;
}

/** Is sipp installed? (Its first version line, or undefined.) */
export function sippVersion(): string | undefined {
  const r = spawnSync(SIPP, ['-v'], { encoding: 'utf8', timeout: 5000 });
  if (r.error || typeof r.stdout !== 'string') return undefined;
  return (
    r.stdout
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.startsWith('SIPp')) ?? undefined
  );
}

// ------------------------------------------------------------------------------------------------ processes

/** Every child started by this file or kamailio.ts and still running: killed if this process exits. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Tracks a child so that it is SIGKILLed (by its pid) if the test process exits before stopping it. */
export function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** Children started here that are still running (a test can assert none is left). */
export function liveChildren(): number[] {
  return [...live].filter((c) => c.exitCode === null && c.signalCode === null).map((c) => c.pid!);
}

/**
 * A port on 127.0.0.1 that was free a moment ago, for UDP (and TCP too if `tcp`). Bind-and-release: racy, but
 * only other processes on this machine can take it in between. A UDP+TCP port (a peer's --sip-port) is drawn
 * below the kernel's ephemeral range (32768-60999 by default): a port the kernel just handed out and took
 * back is the one it tends to hand out next, e.g. to the very peer that was to listen on it.
 */
export async function freeLoopbackPort(tcp = false): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const wanted = tcp ? 20_000 + Math.floor(Math.random() * 12_000) : 0;
    const port = await tryBind('udp', wanted);
    if (port && (!tcp || (await tryBind('tcp', port)) === port)) return port;
  }
  throw new Error(`no free ${tcp ? 'UDP+TCP' : 'UDP'} port on ${LOOPBACK}`);
}

function tryBind(kind: 'udp' | 'tcp', port: number): Promise<number> {
  return new Promise((resolve) => {
    if (kind === 'udp') {
      const s = createSocket('udp4');
      s.once('error', () => resolve(0));
      s.bind(port, LOOPBACK, () => {
        const bound = s.address().port;
        s.close(() => resolve(bound));
      });
    } else {
      const s = createServer();
      s.once('error', () => resolve(0));
      s.listen(port, LOOPBACK, () => {
        const bound = (s.address() as { port: number }).port;
        s.close(() => resolve(bound));
      });
    }
  });
}

// ------------------------------------------------------------------------------------------------ running sipp

export interface SippOptions {
  /** A scenario file: one of SIPP_SCENARIOS or any path. */
  scenario: string;
  /** `host:port` the requests go to; absent for a UAS (server mode: it only answers). */
  remote?: string;
  /** The callee user: `-s`, [service] in the scenarios (the AOR's user part). */
  service?: string;
  /** The caller user, [caller] in the scenarios (default `uac`). */
  caller?: string;
  /** The domain of [service] and [caller], [domain] (default `remote`, else 127.0.0.1). */
  domain?: string;
  /** Local SIP port on 127.0.0.1 (`-p`); 0 or absent: a free port chosen here (see `SippProcess.port`). */
  localPort?: number;
  transport?: 'udp' | 'tcp';
  /** Stop after this many calls (`-m`). A client must set it; a UAS runs until stopped or timed out. */
  calls?: number;
  /** Calls started per second (`-r`, default sipp's 10). */
  rate?: number;
  /** At most this many calls at once (`-l`). */
  maxConcurrent?: number;
  /** Pause between ACK and BYE in ms (`-d`, default 0). */
  pauseMs?: number;
  /** A call waiting longer than this for a message fails (`-recv_timeout`, default 5000). */
  recvTimeoutMs?: number;
  /** Hard bound: sipp's own `-timeout` (counted as failure), and SIGKILL `graceMs` (default 3000) after it. */
  timeoutMs: number;
  graceMs?: number;
  /** Write the message trace and derive per-call timings from it (bounded by `maxTraceBytes`, default 64 MiB). */
  traceMessages?: boolean;
  maxTraceBytes?: number;
  /** More `-key name value` pairs for the scenario. */
  keys?: Record<string, string>;
  /** Expires of register.xml, [expires] (default 3600). */
  expires?: number;
  extraArgs?: string[];
  /** Keep sipp's files (work directory) after the run, for debugging. */
  keepFiles?: boolean;
}

/** What one INVITE transaction looked like from the UAC, from the message trace (seconds, wall clock). */
export interface TracedCall {
  callId: string;
  inviteSent?: number;
  /** First reception of each response code to the INVITE. */
  responses: Map<number, number>;
}

export interface SippResult {
  scenario: string;
  port: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** sipp hit its own global timeout, or we had to kill it. */
  timedOut: boolean;
  killed: boolean;
  wallMs: number;
  /** From the statistics CSV (cumulative counters of its last line); 0 when there is none. */
  created: number;
  successful: number;
  failed: number;
  retransmissions: number;
  unexpectedMessages: number;
  recvTimeouts: number;
  maxRetransFailures: number;
  /** Lines of the error log that report an aborted call or a timeout (at most 200 kept). */
  errors: string[];
  /** Calls aborted because a 200 OK came before its 180 (overtaken in a multi-worker proxy, or the 180 lost). */
  reordered200Before180: number;
  /** With traceMessages: per Call-ID. */
  calls: TracedCall[];
  /** With traceMessages: ms from INVITE sent to the first 180 / 200 received, one entry per call that saw it. */
  inviteTo180Ms: number[];
  inviteTo200Ms: number[];
  /** With traceMessages: ms from INVITE to the first final (>= 200) response, with its code. */
  inviteToFinal: { code: number; ms: number }[];
  /** sipp's RTD counters (ms, 1 ms granularity at best) by RTD number. */
  rtdMs: Record<number, number[]>;
  /** The end of sipp's stdout and stderr (its screen), at most 8 KiB. */
  output: string;
  /** Where the files were (removed unless keepFiles). */
  workDir: string;
}

const OUTPUT_TAIL = 8192;

/** A running sipp. `done` resolves once it has exited and its files are parsed (never rejects for a failed run). */
export class SippProcess {
  readonly done: Promise<SippResult>;
  private stopping = false;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly workDir: string,
    readonly options: SippOptions,
  ) {
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('latin1')).slice(-OUTPUT_TAIL);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const started = performance.now();
    const graceMs = options.graceMs ?? 3000;
    let killed = false;
    const killer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, options.timeoutMs + graceMs);
    this.done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    }).then(({ code, signal }) => {
      clearTimeout(killer);
      const result = collect(this, code, signal, killed, performance.now() - started, output);
      if (!options.keepFiles) rmSync(workDir, { recursive: true, force: true });
      return result;
    });
  }

  /** Starts sipp; resolves once it is spawned (a UAS: once its port is bound, at most 5 s). */
  static async start(options: SippOptions): Promise<SippProcess> {
    if (!(options.timeoutMs > 0)) throw new RangeError('sipp: timeoutMs must be positive');
    if (options.remote && !(options.calls && options.calls > 0))
      throw new RangeError('sipp: a client (remote set) needs calls > 0');
    const port = options.localPort || (await freeLoopbackPort(options.transport === 'tcp'));
    const workDir = await mkdtemp(join(tmpdir(), 'sipp-'));
    const args = sippArgs(options, port, workDir);
    const child = spawn(SIPP, args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    const sipp = new SippProcess(child, port, workDir, options);
    if (!options.remote) await sipp.waitBound(5000);
    return sipp;
  }

  /** Runs a client scenario to its end. */
  static async run(options: SippOptions): Promise<SippResult> {
    return (await SippProcess.start(options)).done;
  }

  /** Ends a UAS: SIGUSR1 (sipp stops taking calls, finishes, writes its final statistics), SIGKILL after graceMs. */
  async stop(graceMs = 5000): Promise<SippResult> {
    if (!this.stopping && this.child.exitCode === null && this.child.signalCode === null) {
      this.stopping = true;
      this.child.kill('SIGUSR1');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      const result = await this.done;
      clearTimeout(timer);
      return result;
    }
    return this.done;
  }

  /** Waits until the SIP port appears in /proc/net (a UAS ready for requests), or rejects. */
  private async waitBound(ms: number): Promise<void> {
    const table = this.options.transport === 'tcp' ? '/proc/net/tcp' : '/proc/net/udp';
    const hex = `0100007F:${this.port.toString(16).toUpperCase().padStart(4, '0')}`;
    const deadline = performance.now() + ms;
    while (performance.now() < deadline) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        const r = await this.done;
        throw new Error(
          `sipp exited (code ${r.exitCode}, signal ${r.signal}) before binding: ${r.output.slice(-1500)}`,
        );
      }
      if (readFileSync(table, 'utf8').includes(` ${hex} `)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    this.child.kill('SIGKILL');
    throw new Error(`sipp did not bind ${LOOPBACK}:${this.port} within ${ms} ms`);
  }
}

/** The command line: loopback only (SIP, media and control sockets), files in the work directory. */
export function sippArgs(o: SippOptions, port: number, workDir: string): string[] {
  const args: string[] = [];
  if (o.remote) args.push(o.remote);
  args.push('-sf', isAbsolute(o.scenario) ? o.scenario : join(process.cwd(), o.scenario));
  args.push('-i', LOOPBACK, '-p', String(port), '-bind_local', '-mi', LOOPBACK, '-ci', LOOPBACK);
  args.push('-t', o.transport === 'tcp' ? 't1' : 'u1', '-nostdin');
  if (o.service) args.push('-s', o.service);
  const keys: Record<string, string> = {
    caller: o.caller ?? 'uac',
    domain: o.domain ?? o.remote ?? LOOPBACK,
    expires: String(o.expires ?? 3600),
    ...o.keys,
  };
  for (const [k, v] of Object.entries(keys)) args.push('-key', k, v);
  if (o.calls !== undefined) args.push('-m', String(o.calls));
  if (o.rate !== undefined) args.push('-r', String(o.rate));
  if (o.maxConcurrent !== undefined) args.push('-l', String(o.maxConcurrent));
  args.push('-d', String(o.pauseMs ?? 0), '-recv_timeout', String(o.recvTimeoutMs ?? 5000));
  args.push('-timeout', `${Math.max(1, Math.ceil(o.timeoutMs / 1000))}s`, '-timeout_error');
  args.push('-trace_stat', '-stf', join(workDir, 'stat.csv'), '-fd', '1');
  args.push('-trace_err', '-error_file', join(workDir, 'errors.log'));
  args.push('-trace_rtt', '-rtt_freq', '1');
  if (o.traceMessages) args.push('-trace_msg', '-message_file', join(workDir, 'messages.log'));
  args.push(...(o.extraArgs ?? []));
  return args;
}

function collect(
  sipp: SippProcess,
  exitCode: number | null,
  signal: NodeJS.Signals | null,
  killed: boolean,
  wallMs: number,
  output: string,
): SippResult {
  const dir = sipp.workDir;
  const read = (file: string, max = 16 << 20) => {
    const path = join(dir, file);
    if (!existsSync(path)) return '';
    const size = statSync(path).size;
    if (size > max) throw new Error(`sipp ${file} is ${size} bytes, over the ${max}-byte bound`);
    return readFileSync(path, 'latin1');
  };
  const stat = parseStatCsv(read('stat.csv'));
  const errorLog = read('errors.log');
  const errors = errorLog
    .split('\n')
    .filter((l) => /Aborting call|timed out after|max.{0,20}retrans/i.test(l))
    .slice(0, 200);
  const rtdMs: Record<number, number[]> = {};
  for (const f of readdirSync(dir).filter((f) => f.endsWith('_rtt.csv')))
    for (const [k, v] of Object.entries(parseRttCsv(read(f)))) (rtdMs[Number(k)] ??= []).push(...v);
  const calls = sipp.options.traceMessages
    ? parseMessageTrace(read('messages.log', sipp.options.maxTraceBytes ?? 64 << 20))
    : [];
  const timings = callTimings(calls);
  return {
    scenario: sipp.options.scenario,
    port: sipp.port,
    exitCode,
    signal,
    timedOut: killed || /timed out after/.test(errorLog),
    killed,
    wallMs,
    ...stat,
    errors,
    reordered200Before180: (errorLog.match(/while expecting '180' \(index \d+\), received 'SIP\/2\.0 200/g) ?? [])
      .length,
    calls,
    ...timings,
    rtdMs,
    output,
    workDir: dir,
  };
}

// ------------------------------------------------------------------------------------------------ parsers

export interface SippStats {
  created: number;
  successful: number;
  failed: number;
  retransmissions: number;
  unexpectedMessages: number;
  recvTimeouts: number;
  maxRetransFailures: number;
}

/** sipp's `-trace_stat` CSV (`;`-separated, one line per dump): the cumulative counters of the last line. */
export function parseStatCsv(text: string): SippStats {
  const rows = text.split('\n').filter((l) => l.trim() !== '');
  const header = rows[0]?.split(';') ?? [];
  const last = rows.length > 1 ? rows[rows.length - 1]!.split(';') : [];
  const get = (name: string) => {
    const i = header.indexOf(name);
    const v = i >= 0 ? Number(last[i]) : 0;
    return Number.isFinite(v) ? v : 0;
  };
  return {
    created: get('TotalCallCreated'),
    successful: get('SuccessfulCall(C)'),
    failed: get('FailedCall(C)'),
    retransmissions: get('Retransmissions(C)'),
    unexpectedMessages: get('FailedUnexpectedMessage(C)'),
    recvTimeouts: get('FailedTimeoutOnRecv(C)'),
    maxRetransFailures: get('FailedMaxUDPRetrans(C)'),
  };
}

/** sipp's `-trace_rtt` CSV (`Date_ms;response_time_ms;rtd_no`): response times in ms by RTD number. */
export function parseRttCsv(text: string): Record<number, number[]> {
  const out: Record<number, number[]> = {};
  for (const line of text.split('\n').slice(1)) {
    const p = line.trim().split(';');
    if (p.length !== 3) continue;
    const ms = Number(p[1]);
    const rtd = Number(p[2]);
    if (Number.isFinite(ms) && Number.isInteger(rtd)) (out[rtd] ??= []).push(ms);
  }
  return out;
}

const TRACE_SEPARATOR = /^-{20,} (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d+)\s*$/;

/**
 * sipp's `-trace_msg` log: blocks headed by a dashed line with a µs timestamp, then "UDP/TCP message sent ..." or
 * "... message received ...", then the message. Returns, per Call-ID, when the INVITE was first sent and when each
 * response code to the INVITE (CSeq method INVITE) was first received. Timestamps are local wall-clock time
 * read as UTC: only differences are used.
 */
export function parseMessageTrace(text: string): TracedCall[] {
  const calls = new Map<string, TracedCall>();
  const lines = text.split(/\r?\n/);
  let i = 0;
  while (i < lines.length) {
    const head = TRACE_SEPARATOR.exec(lines[i]!);
    if (!head) {
      i++;
      continue;
    }
    const [, y, mo, d, h, mi, s, frac] = head;
    const t =
      Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000 + Number(`0.${frac}`);
    const body: string[] = [];
    for (i++; i < lines.length && !TRACE_SEPARATOR.test(lines[i]!); i++) body.push(lines[i]!);
    const direction = body[0] ?? '';
    const sent = /message sent/i.test(direction);
    if (!sent && !/message received/i.test(direction)) continue;
    const msg = body.slice(1).filter((l) => l.trim() !== '');
    const first = msg[0] ?? '';
    let callId: string | undefined;
    let cseq: string | undefined;
    for (const l of msg) {
      const m = /^(call-id|i|cseq)\s*:\s*(.*)$/i.exec(l);
      if (!m) continue;
      if (m[1]!.toLowerCase() === 'cseq') cseq ??= m[2]!.trim();
      else callId ??= m[2]!.trim();
    }
    if (!callId) continue;
    let call = calls.get(callId);
    if (!call) calls.set(callId, (call = { callId, responses: new Map() }));
    if (sent && first.startsWith('INVITE ')) call.inviteSent ??= t;
    else if (!sent && first.startsWith('SIP/2.0 ') && cseq && /\sINVITE$/i.test(cseq)) {
      const code = Number(first.split(' ')[1]);
      if (Number.isInteger(code) && !call.responses.has(code)) call.responses.set(code, t);
    }
  }
  return [...calls.values()];
}

/** INVITE->180, INVITE->200 and INVITE->first final response per traced call, in ms. */
export function callTimings(
  calls: TracedCall[],
): Pick<SippResult, 'inviteTo180Ms' | 'inviteTo200Ms' | 'inviteToFinal'> {
  const inviteTo180Ms: number[] = [];
  const inviteTo200Ms: number[] = [];
  const inviteToFinal: { code: number; ms: number }[] = [];
  for (const c of calls) {
    if (c.inviteSent === undefined) continue;
    const at = (code: number) => c.responses.get(code);
    const r180 = at(180);
    const r200 = at(200);
    if (r180 !== undefined) inviteTo180Ms.push(1000 * (r180 - c.inviteSent));
    if (r200 !== undefined) inviteTo200Ms.push(1000 * (r200 - c.inviteSent));
    const finals = [...c.responses].filter(([code]) => code >= 200).sort((a, b) => a[1] - b[1]);
    if (finals[0]) inviteToFinal.push({ code: finals[0][0], ms: 1000 * (finals[0][1] - c.inviteSent) });
  }
  return { inviteTo180Ms, inviteTo200Ms, inviteToFinal };
}

// ------------------------------------------------------------------------------------------------ statistics

export interface LatencyStats {
  n: number;
  p50?: number;
  p95?: number;
  p99?: number;
  max?: number;
  mean?: number;
}

/** Linear interpolation between closest ranks, as sip_bench.py's pct(), so both mean the same. */
export function percentile(values: number[], p: number): number | undefined {
  const xs = [...values].sort((a, b) => a - b);
  if (xs.length === 0) return undefined;
  const k = ((xs.length - 1) * p) / 100;
  const f = Math.floor(k);
  const c = Math.min(f + 1, xs.length - 1);
  return xs[f]! + (xs[c]! - xs[f]!) * (k - f);
}

export function latencyStats(values: number[]): LatencyStats {
  if (values.length === 0) return { n: 0 };
  return {
    n: values.length,
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: Math.max(...values),
    mean: values.reduce((a, x) => a + x, 0) / values.length,
  };
}
