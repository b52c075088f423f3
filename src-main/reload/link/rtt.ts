/** Round-trip time and retransmission timeout per RFC 6298, in milliseconds (RFC 6940 §6.6.3.1). */
export class RttEstimator {
  private srtt: number | undefined;
  private rttvar = 0;

  constructor(
    private readonly initialRtoMs = 500,
    private readonly minRtoMs = 100,
    private readonly maxRtoMs = 60_000,
  ) {}

  get smoothed(): number | undefined {
    return this.srtt;
  }

  sample(ms: number): void {
    if (!(ms >= 0)) return;
    if (this.srtt === undefined) {
      this.srtt = ms;
      this.rttvar = ms / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - ms);
      this.srtt = 0.875 * this.srtt + 0.125 * ms;
    }
  }

  get rtoMs(): number {
    if (this.srtt === undefined) return this.initialRtoMs;
    return Math.round(Math.min(this.maxRtoMs, Math.max(this.minRtoMs, this.srtt + Math.max(1, 4 * this.rttvar))));
  }
}

/**
 * The receiver's memory of the last 32 sequence numbers, as an ack frame reports it: for the packet with
 * sequence N, bit (N − M − 1) of `received` says packet M (N−32 ≤ M < N) arrived (docs/decisions.md).
 */
export class ReceiveWindow {
  private readonly seen = new Set<number>();
  private readonly order: number[] = [];

  /** Records `seq`; false if it was seen among the last 32 (a duplicate). */
  record(seq: number): boolean {
    if (this.seen.has(seq)) return false;
    this.seen.add(seq);
    this.order.push(seq);
    if (this.order.length > 32) this.seen.delete(this.order.shift() as number);
    return true;
  }

  bitmapFor(seq: number): number {
    let bits = 0;
    for (const m of this.seen) {
      const d = seq - m;
      if (d >= 1 && d <= 32) bits |= 1 << (d - 1);
    }
    return bits >>> 0;
  }
}
