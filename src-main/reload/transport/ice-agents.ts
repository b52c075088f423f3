/**
 * The ICE agents an Attach or AppAttach strategy has open: one per exchange, created with the strategy's
 * host addresses and STUN server, released when the exchange fails, and all closed with the strategy. Once
 * the link or flow built on an agent closes (and closes the agent), the agent is forgotten.
 */
import { IceAgent } from '../link/ice/ice-agent';

export interface IceAgentSettings {
  hostAddresses?: string[];
  stunServer?: { host: string; port: number };
}

export class IceAgents {
  private readonly open = new Set<IceAgent>();

  constructor(private readonly settings: IceAgentSettings) {}

  async create(controlling: boolean): Promise<IceAgent> {
    const agent = await IceAgent.create({
      controlling,
      ...(this.settings.hostAddresses ? { hostAddresses: this.settings.hostAddresses } : {}),
      ...(this.settings.stunServer ? { stunServer: this.settings.stunServer } : {}),
    });
    this.open.add(agent);
    return agent;
  }

  /** The agent's exchange failed or was given up: close it. */
  async release(agent: IceAgent): Promise<void> {
    this.open.delete(agent);
    await agent.close();
  }

  /** The agent closed with its link or flow: no longer ours to close. */
  forget(agent: IceAgent): void {
    this.open.delete(agent);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.open].map((a) => this.release(a)));
  }
}
