import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bestResponseIndex, upstreamStatus, type BranchOutcome } from '../../../../../src-main/sip/proxy/best-response';

const finalStatus = fc.integer({ min: 300, max: 699 });
const outcomes = fc
  .array(fc.record({ status: finalStatus, synthesized: fc.boolean() }), { minLength: 1, maxLength: 8 })
  .map((list) => list.map((o, branch): BranchOutcome => ({ ...o, branch })));

describe('best response among failed branches (RFC 3261 §16.7 step 6)', () => {
  it('does not depend on the order the answers arrived in', () => {
    fc.assert(
      fc.property(outcomes, fc.func(fc.integer()), (list, key) => {
        const shuffled = [...list].sort((a, b) => key(a.branch) - key(b.branch) || a.branch - b.branch);
        expect(shuffled[bestResponseIndex(shuffled)]).toEqual(list[bestResponseIndex(list)]);
      }),
    );
  });

  it('picks a 6xx whenever there is one, otherwise a response of the lowest class', () => {
    fc.assert(
      fc.property(outcomes, (list) => {
        const best = list[bestResponseIndex(list)] as BranchOutcome;
        const classes = list.map((o) => Math.floor(o.status / 100));
        if (classes.includes(6)) expect(Math.floor(best.status / 100)).toBe(6);
        else expect(Math.floor(best.status / 100)).toBe(Math.min(...classes));
      }),
    );
  });

  it('prefers 401/407/415/420/484, then a UA’s definite answer over "not here" and made-up ones', () => {
    const o = (status: number, branch: number, synthesized = false): BranchOutcome => ({ status, branch, synthesized });
    expect(bestResponseIndex([o(486, 0), o(407, 1)])).toBe(1);
    expect(bestResponseIndex([o(404, 0), o(486, 1)])).toBe(1);
    expect(bestResponseIndex([o(408, 0, true), o(480, 1, true), o(603, 2)])).toBe(2);
    expect(bestResponseIndex([o(480, 0, true), o(408, 1, true)])).toBe(1);
    expect(bestResponseIndex([o(486, 0), o(486, 1)])).toBe(0);
    expect(() => bestResponseIndex([])).toThrow(RangeError);
  });

  it('never passes a 503 upstream', () => {
    expect(upstreamStatus(503)).toBe(500);
    expect(upstreamStatus(486)).toBe(486);
  });
});
