import { describe, expect, it } from 'vitest';
import {
  createMemorySipTransportPair,
  MemorySipTransportClosedError,
} from '../../../../../src-main/sip/transport/memory-sip-transport';

const pair = () =>
  createMemorySipTransportPair({
    a: { id: 'a', party: { kind: 'app' } },
    b: { id: 'b', party: { kind: 'local', address: '127.0.0.1', port: 5060 } },
  });

describe('in-memory SipTransport pair', () => {
  it('delivers whole messages in order, later, never inside send', async () => {
    const [a, b] = pair();
    const got: string[] = [];
    b.onMessage((m) => got.push(m));
    const sends = [a.send('one'), a.send('two')];
    expect(got).toEqual([]);
    await Promise.all(sends);
    await Promise.resolve();
    expect(got).toEqual(['one', 'two']);
    expect(a.sent).toEqual(['one', 'two']);
    expect(a.party).toEqual({ kind: 'app' });
    expect(a.protocol).toBe('TCP');
  });

  it('closing one end closes both, tells the listeners once, and refuses later sends', async () => {
    const [a, b] = pair();
    const reasons: string[] = [];
    a.onClose((r) => reasons.push(`a:${r}`));
    b.onClose((r) => reasons.push(`b:${r}`));
    b.close('gone');
    b.close('again');
    expect(a.closed && b.closed).toBe(true);
    expect(reasons).toEqual(['b:gone', 'a:gone']);
    await expect(a.send('x')).rejects.toBeInstanceOf(MemorySipTransportClosedError);
  });

  it('drops messages still in flight when the receiver closes', async () => {
    const [a, b] = pair();
    const got: string[] = [];
    b.onMessage((m) => got.push(m));
    const sending = a.send('late');
    b.close();
    await sending;
    await Promise.resolve();
    expect(got).toEqual([]);
  });
});
