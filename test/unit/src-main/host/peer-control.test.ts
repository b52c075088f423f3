/**
 * The peer's JSON-line control commands against a real node (a one-peer simulated overlay): each bad field
 * gets a ControlCommandError naming it and stores nothing; good commands store and fetch signed values.
 */
import { describe, expect, it } from 'vitest';
import { ControlCommandError, runControlCommand } from '../../../../src-main/host/peer/peer-control';
import { OverlaySimulation } from '../../../../src-main/reload/sim';

const SIP_REGISTRATION = 0x1;
const CERT_BY_USER = 0x10;

describe('peer control commands', () => {
  it('refuses malformed commands, naming the field, and changes nothing', async () => {
    const sim = await OverlaySimulation.create({ nodes: 1, seed: 4, publishCertificates: false });
    await sim.start(0);
    const node = sim.nodes[0]!.node;
    const run = (command: Record<string, unknown>) =>
      sim.until(runControlCommand(node, { cmd: String(command.cmd), ...command }));
    const refusal = async (command: Record<string, unknown>, field: string) => {
      const error = await run(command).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ControlCommandError);
      expect((error as Error).message.startsWith(`${field}:`)).toBe(true);
    };
    const good = { cmd: 'store', kind: CERT_BY_USER, resource: 'sim0@sim.example.org', value: 'AQI=' };
    await refusal({ cmd: 'nonsense' }, 'cmd');
    await refusal({ cmd: 'lookup', id: 'abc' }, 'id');
    await refusal({ ...good, kind: 'x' }, 'kind');
    await refusal({ ...good, kind: 0x7777 }, 'kind');
    await refusal({ ...good, resource: '' }, 'resource');
    await refusal({ ...good, value: 5 }, 'value');
    await refusal({ ...good, lifetime: -1 }, 'lifetime');
    await refusal({ ...good, index: 1.5 }, 'index');
    await refusal({ ...good, kind: SIP_REGISTRATION }, 'key');
    expect(node.storage.service.data.usage().entries).toBe(0);

    await run({ ...good, index: 1 });
    const fetched = (await run({ cmd: 'fetch', kind: CERT_BY_USER, resource: 'sim0@sim.example.org' })) as {
      values: string[];
    };
    expect(fetched.values).toEqual(['AQI=']);
    const lookup = (await run({ cmd: 'lookup', id: '00'.repeat(16) })) as { hops: number; responder: string };
    expect(lookup.hops).toBe(1);
  }, 60_000);
});
