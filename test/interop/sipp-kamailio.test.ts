/**
 * The sipp harness against Kamailio (issue 11's end-to-end tests and SIP benchmark use the same pieces with
 * our peers in Kamailio's place): a sipp UAS registers at Kamailio and answers; a sipp UAC makes 20 calls
 * through Kamailio, all complete with per-call timings parsed from the message trace; a call to a user nobody
 * registered is answered 404; a sipp with nothing to answer it is bounded by its timeout. Every process is
 * stopped by its pid in afterAll, also when a test failed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kamailio, kamailioVersion } from '../support/kamailio';
import {
  freeLoopbackPort,
  latencyStats,
  liveChildren,
  sippVersion,
  SippProcess,
  SIPP_SCENARIOS,
} from '../support/sipp';

let kamailio: Kamailio | undefined;
let uas: SippProcess | undefined;

beforeAll(async () => {
  if (!sippVersion()) throw new Error('sipp not found: install Debian sip-tester (.ci/run does)');
  if (!kamailioVersion()) throw new Error('kamailio not found: install Debian kamailio (.ci/run does)');
  kamailio = await Kamailio.start({ children: 1 });
  // The UAS's REGISTER is sent from the port it will then answer on, so the Contact is that port.
  const uasPort = await freeLoopbackPort();
  const registered = await SippProcess.run({
    scenario: SIPP_SCENARIOS.register,
    remote: kamailio.address,
    service: 'bob',
    localPort: uasPort,
    calls: 1,
    timeoutMs: 10_000,
  });
  expect(registered.successful, registered.output).toBe(1);
  uas = await SippProcess.start({ scenario: SIPP_SCENARIOS.uas, localPort: uasPort, timeoutMs: 120_000 });
});

afterAll(async () => {
  await uas?.stop();
  await kamailio?.stop();
  expect(liveChildren()).toEqual([]);
});

describe('sipp through Kamailio', () => {
  it('completes 20 calls to a registered UAS (INVITE, 180, 200, ACK, BYE) with per-call timings', async () => {
    const r = await SippProcess.run({
      scenario: SIPP_SCENARIOS.uac,
      remote: kamailio!.address,
      service: 'bob',
      calls: 20,
      rate: 20,
      timeoutMs: 20_000,
      traceMessages: true,
    });
    expect({ exit: r.exitCode, ok: r.successful, failed: r.failed, errors: r.errors }).toEqual({
      exit: 0,
      ok: 20,
      failed: 0,
      errors: [],
    });
    expect(r.calls).toHaveLength(20);
    expect(r.inviteTo180Ms).toHaveLength(20);
    expect(r.inviteTo200Ms).toHaveLength(20);
    for (const c of r.calls) expect(c.responses.get(180)!).toBeLessThanOrEqual(c.responses.get(200)!);
    const s180 = latencyStats(r.inviteTo180Ms);
    const s200 = latencyStats(r.inviteTo200Ms);
    for (const s of [s180, s200]) {
      expect(s.p50!).toBeGreaterThan(0);
      expect(s.p50!).toBeLessThanOrEqual(s.p95!);
      expect(s.p95!).toBeLessThanOrEqual(s.p99!);
      expect(s.p99!).toBeLessThan(1000);
    }
    expect(s180.p50!).toBeLessThan(s200.p50!);
    // sipp's own RTD counters saw the same 20 calls (RTD 1 = INVITE->180, 2 = INVITE->200).
    expect(r.rtdMs[1]).toHaveLength(20);
    expect(r.rtdMs[2]).toHaveLength(20);
  });

  it('gets 404 within 1 s for a user nobody registered', async () => {
    const r = await SippProcess.run({
      scenario: SIPP_SCENARIOS.uac404,
      remote: kamailio!.address,
      service: 'nobody',
      calls: 1,
      timeoutMs: 10_000,
      traceMessages: true,
    });
    expect({ exit: r.exitCode, ok: r.successful, failed: r.failed }).toEqual({ exit: 0, ok: 1, failed: 0 });
    expect(r.inviteToFinal).toHaveLength(1);
    expect(r.inviteToFinal[0]!.code).toBe(404);
    expect(r.inviteToFinal[0]!.ms).toBeLessThan(1000);
  });

  it('fails the 404 scenario when the user is registered (the call is answered instead)', async () => {
    const r = await SippProcess.run({
      scenario: SIPP_SCENARIOS.uac404,
      remote: kamailio!.address,
      service: 'bob',
      calls: 1,
      timeoutMs: 10_000,
      recvTimeoutMs: 2000,
      traceMessages: true,
    });
    expect(r.successful).toBe(0);
    expect(r.failed).toBe(1);
    expect(r.exitCode).not.toBe(0);
    // sipp aborts the call on the 180 it did not expect, before any final response.
    expect([...(r.calls[0]?.responses.keys() ?? [])]).toContain(180);
    expect(r.errors.join('\n')).toMatch(/while expecting '404'.*received 'SIP\/2\.0 180/);
  });

  it('calls the UAS directly as well (the benchmark floor)', async () => {
    const r = await SippProcess.run({
      scenario: SIPP_SCENARIOS.uac,
      remote: `127.0.0.1:${uas!.port}`,
      service: 'bob',
      calls: 5,
      rate: 20,
      timeoutMs: 10_000,
      traceMessages: true,
    });
    expect({ ok: r.successful, failed: r.failed }).toEqual({ ok: 5, failed: 0 });
    expect(r.inviteTo200Ms).toHaveLength(5);
  });

  it('bounds a UAC that nobody answers by its timeout and leaves no process behind', async () => {
    const deadPort = await freeLoopbackPort(); // nothing listens there
    const started = performance.now();
    const uac = await SippProcess.start({
      scenario: SIPP_SCENARIOS.uac,
      remote: `127.0.0.1:${deadPort}`,
      service: 'bob',
      calls: 1,
      timeoutMs: 2000,
      recvTimeoutMs: 10_000,
    });
    const r = await uac.done;
    expect(performance.now() - started).toBeLessThan(2000 + 3000 + 1000);
    expect(r.successful).toBe(0);
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).not.toBe(0);
    expect(liveChildren()).not.toContain(uac.child.pid);
  });
});
