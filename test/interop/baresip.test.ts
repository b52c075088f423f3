/**
 * A real, standard SIP phone at a headless peer: baresip (Debian `baresip-core`), configured with the account line
 * README.md gives for it ("Using a standard SIP phone", read from the README itself and filled in with bob and
 * this overlay, plus `;answermode=auto`), registers bob@overlay at peer B's local SIP interface over UDP; a sipp
 * UAC at peer A calls bob@overlay and the call (INVITE, 180, 200, ACK, BYE) comes through the overlay to baresip,
 * which answers it. When baresip quits it unregisters, and B removes the binding and the overlay record. Three
 * peer processes (CA-issued identities, ICE + DTLS on loopback); every process is stopped by its pid in afterAll.
 *
 * B listens on a free port, not 5060: the README's line is filled in with it. (This test found that a peer's Via
 * towards a phone named no port, so baresip, following RFC 3261 §18.2.2, answered to port 5060 and calls failed
 * on any other --sip-port; sipp's UAS answers to the source port and never noticed. The Via now names the local
 * interface's address and port.)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Baresip, baresipVersion } from '../support/baresip';
import type { PeerProcess } from '../support/peer-process';
import { startSipOverlay } from '../support/sip-overlay';
import { liveChildren, sippVersion, SippProcess, SIPP_SCENARIOS } from '../support/sipp';

const OVERLAY = 'sip.example.org';
const USERS = ['carol', 'alice', 'bob'];
const A = 1;
const B = 2;
const BOB = `bob@${OVERLAY}`;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const randomNodeId = () => Uint8Array.from({ length: 16 }, () => Math.floor(Math.random() * 256));

/**
 * The baresip `accounts` line of README.md's "Using a standard SIP phone" section (written for alice@example.org
 * at 127.0.0.1:5060), for `user`@`overlay` at 127.0.0.1:`sipPort`.
 */
function readmeBaresipAccount(user: string, overlay: string, sipPort: number): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('### Using a standard SIP phone');
  expect(start, 'README.md: no "### Using a standard SIP phone" section').toBeGreaterThanOrEqual(0);
  const rest = readme.slice(start + 1);
  const end = rest.search(/\n#{1,4} /);
  const section = end < 0 ? rest : rest.slice(0, end);
  const lines = section.split('\n').filter((l) => l.startsWith('<sip:alice@example.org'));
  expect(lines, 'README.md: one baresip accounts line <sip:alice@example.org…> in that section').toHaveLength(1);
  const line = lines[0]!.trim();
  expect(line).toContain('127.0.0.1:5060');
  return line
    .replace('<sip:alice@example.org', `<sip:${user}@${overlay}`)
    .replace('127.0.0.1:5060', `127.0.0.1:${sipPort}`);
}

interface SipStatus {
  sip: {
    bindings: { aor: string; contact: string; protocol: string; expiresInSec: number; gruu: string }[];
    registrations: { aor: string; record: string; bindings: unknown[]; lastStore?: { ok: boolean; record: string } }[];
  };
}

/** The first block of a sipp message trace that was received and starts with `startLine` and has `cseq`. */
function receivedMessage(trace: string, startLine: string, cseq: string): string | undefined {
  return trace
    .split(/^-{20,}.*$/m)
    .map((block) => block.split('\n'))
    .filter((lines) => /message received/i.test(lines.find((l) => l.trim() !== '') ?? ''))
    .map((lines) =>
      lines
        .slice(lines.findIndex((l) => /message received/i.test(l)) + 1)
        .join('\n')
        .trim(),
    )
    .find((msg) => msg.startsWith(startLine) && new RegExp(`^CSeq:\\s*${cseq}\\s*$`, 'mi').test(msg));
}

describe('baresip, a standard SIP phone, at a peer of a 3-process overlay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reload-baresip-'));
  const spawned: PeerProcess[] = [];
  let peers: PeerProcess[] = [];
  let sipPorts = new Map<number, number>();
  let phone: Baresip | undefined;
  let account = '';
  /** The pub-gruu B gave baresip in the 200 to its REGISTER. */
  let gruu = '';

  const statusAt = async (peer: number) => (await peers[peer]!.command({ cmd: 'sip-status' })) as unknown as SipStatus;

  /** Polls B's sip-status until `ok` holds (or `ms` passed); returns the last status. */
  const pollB = async (ok: (s: SipStatus) => boolean, ms: number): Promise<SipStatus> => {
    const deadline = performance.now() + ms;
    let status = await statusAt(B);
    while (!ok(status) && performance.now() < deadline) {
      await sleep(200);
      status = await statusAt(B);
    }
    return status;
  };
  const phoneBound = (s: SipStatus) =>
    s.sip.bindings.some((b) => b.aor === BOB && b.contact.includes(`@127.0.0.1:${phone?.port}`));

  beforeAll(async () => {
    if (!sippVersion()) throw new Error('sipp not found: install Debian sip-tester (.ci/run does)');
    if (!baresipVersion()) throw new Error('baresip not found: install Debian baresip-core (.ci/run does)');
    ({ peers, sipPorts } = await startSipOverlay(dir, {
      overlay: OVERLAY,
      peers: USERS.length,
      userOf: (i) => USERS[i]!,
      nodeIdOf: randomNodeId,
      sipPeers: [A, B],
      spawned,
    }));
    account = `${readmeBaresipAccount('bob', OVERLAY, sipPorts.get(B)!)};answermode=auto`;
    // While the ring still settles, B's Store of the registration may fail (500), and baresip backs off before it
    // registers again (libre's fail-wait, far longer than this test): start it afresh instead, a few times.
    for (let attempt = 0; attempt < 4; attempt++) {
      phone = await Baresip.start({ account, sipTrace: true });
      if (phoneBound(await pollB(phoneBound, 8_000))) break;
      await phone.stop(5_000);
      phone = undefined;
    }
  }, 90_000);

  afterAll(async () => {
    await phone?.stop(5_000);
    await Promise.all(spawned.map((p) => p.kill('SIGTERM')));
    expect(spawned.every((p) => p.exited)).toBe(true);
    expect(liveChildren()).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("registers the README's account at peer B: a UDP binding of bob@overlay and its route in the overlay", async () => {
    expect(phone, 'baresip never got a binding at B').toBeDefined();
    const status = await statusAt(B);
    expect(status.sip.bindings).toHaveLength(1);
    const [binding] = status.sip.bindings;
    expect(binding).toMatchObject({ aor: BOB, protocol: 'UDP' });
    // baresip's Contact: <sip:bob-0x…@127.0.0.1:PORT>; regint=3600 from the README line.
    expect(binding!.contact).toMatch(new RegExp(`^sip:bob[^@]*@127\\.0\\.0\\.1:${phone!.port}\\b`));
    expect(binding!.expiresInSec).toBeGreaterThan(3500);
    expect(binding!.expiresInSec).toBeLessThanOrEqual(3600);
    expect(binding!.gruu).toMatch(new RegExp(`^sip:bob@${OVERLAY.replace(/\./g, '\\.')};gr=`));
    gruu = binding!.gruu;
    expect(status.sip.registrations).toMatchObject([{ aor: BOB, record: 'route' }]);
    expect(phone!.log()).toMatch(new RegExp(`REGISTER sip:${OVERLAY.replace(/\./g, '\\.')} SIP/2\\.0`));
  });

  it('answers a call from a sipp UAC at peer A that comes through the overlay: INVITE, 180, 200, ACK, BYE', async () => {
    const r = await SippProcess.run({
      scenario: SIPP_SCENARIOS.uac,
      remote: `127.0.0.1:${sipPorts.get(A)}`,
      service: 'bob',
      caller: 'alice',
      domain: OVERLAY,
      calls: 1,
      pauseMs: 500,
      timeoutMs: 30_000,
      recvTimeoutMs: 10_000,
      traceMessages: true,
      keepFiles: true,
    });
    let trace = '';
    try {
      trace = readFileSync(join(r.workDir, 'messages.log'), 'latin1');
    } finally {
      rmSync(r.workDir, { recursive: true, force: true });
    }
    expect(
      { exit: r.exitCode, ok: r.successful, failed: r.failed, errors: r.errors.slice(0, 5) },
      `${r.output}\n---- baresip\n${phone!.log().slice(-6000)}`,
    ).toEqual({ exit: 0, ok: 1, failed: 0, errors: [] });
    expect(r.inviteTo180Ms).toHaveLength(1);
    expect(r.inviteToFinal).toMatchObject([{ code: 200 }]);
    // It was baresip that answered, through A and B: its Server header, and as Contact the GRUU that B gave it
    // in the 200 to its REGISTER (baresip uses a registrar's pub-gruu, RFC 5627), unchanged by the proxies.
    const ok = receivedMessage(trace, 'SIP/2.0 200', '1 INVITE');
    expect(ok, trace.slice(-4000)).toBeDefined();
    expect(ok).toMatch(/^Server:\s*baresip v\S+/im);
    const contact = /^(?:Contact|m):\s*(.*?)\s*$/im.exec(ok!)?.[1];
    expect(contact).toBe(`<${gruu}>`);
    expect(ok).toMatch(/^Content-Type:\s*application\/sdp/im);
    expect(receivedMessage(trace, 'SIP/2.0 200', '2 BYE')).toBeDefined();
    // And baresip's own log: it took the call from alice and saw the BYE.
    expect(phone!.log()).toContain(`call: answering call on line 1 from sip:alice@${OVERLAY} with 200`);
    expect(phone!.log()).toMatch(/^BYE sip:\S+ SIP\/2\.0$/m);
  });

  it('unregisters when baresip quits: B drops the binding and removes the overlay record', async () => {
    const ended = await phone!.stop(10_000);
    expect(ended, phone!.log().slice(-3000)).toEqual({ code: 0, signal: null, killed: false });
    expect(phone!.log()).toMatch(/^Contact: <sip:bob[^>]*>;expires=0$/m);
    // B answers the un-REGISTER once the overlay took the removal; the AOR's entry then leaves sip-status.
    const status = await pollB((s) => s.sip.bindings.length === 0 && s.sip.registrations.length === 0, 5_000);
    expect(status.sip.bindings).toEqual([]);
    expect(status.sip.registrations).toEqual([]);
  });
});
