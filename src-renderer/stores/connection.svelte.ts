/**
 * The connection to the backend as the shell shows it: the bridge's state plus whether the backend said it
 * is stopping, so "shutting down" can turn into "stopped" once the bridge closes.
 */
import type { Client, ConnectionState } from '../bridge';

export type ConnectionPhase = 'connecting' | 'open' | 'stopping' | 'stopped' | 'lost' | 'refused';

export class ConnectionStore {
  state = $state<ConnectionState>('connecting');
  stopping = $state(false);

  /** Every action that needs the backend is enabled only while this is true. */
  readonly canAct = $derived(this.state === 'open' && !this.stopping);

  readonly phase: ConnectionPhase = $derived.by(() => {
    if (this.state === 'refused') return 'refused';
    if (this.state === 'closed') return this.stopping ? 'stopped' : 'lost';
    if (this.stopping) return 'stopping';
    return this.state;
  });

  private readonly offs: (() => void)[];

  constructor(client: Client) {
    this.state = client.state;
    this.offs = [client.onState((s) => (this.state = s)), client.on('app.stopping', () => (this.stopping = true))];
  }

  dispose(): void {
    for (const off of this.offs) off();
  }
}
