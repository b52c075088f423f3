/**
 * The link from a node to itself: a request whose destination is this node (its own Node-ID, or a
 * Resource-ID it is responsible for — e.g. the first peer storing its own certificate) goes through the
 * same receive, verify and answer path as any other, on the next turn of the clock.
 */
import type { Clock } from '../clock';
import type { ValidatedIdentity } from '../identity';
import { LinkBase } from '../link/link-base';

export class LoopbackLink extends LinkBase {
  constructor(
    self: ValidatedIdentity,
    maxMessageSize: number,
    private readonly clock: Clock,
  ) {
    super('MEMORY', self, maxMessageSize);
  }

  get rttMs(): number {
    return 0;
  }

  protected async transmit(message: Uint8Array): Promise<void> {
    const copy = message.slice();
    this.clock.setTimeout(() => this.deliver(copy), 0);
  }

  protected async shutdown(): Promise<void> {}
}
