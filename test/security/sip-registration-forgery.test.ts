/**
 * Attack: taking over someone else's SIP registration (RFC 7904 §3.3, USER-NODE-MATCH). A node whose own
 * service refuses to register a foreign AOR can still hand-build Stores; the storing peer must refuse each
 * with Error_Forbidden: a route record at H(victim's AOR), an entry there keyed by the victim's Node-ID, an
 * entry at the attacker's own AOR keyed by another Node-ID, and (sip:domain-restriction) an AOR of a domain the
 * overlay does not serve. The victim's record stays exactly as it was.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src-main/common/logger';
import { defaultKinds } from '../../src-main/reload/config';
import { resourceIdFor } from '../../src-main/reload/crypto';
import { OverlaySimulation, type SimNode } from '../../src-main/reload/sim';
import type { StorageKind } from '../../src-main/reload/storage';
import { ErrorResponseError } from '../../src-main/reload/transport';
import { ErrorCode, isOpaqueStoredData, toHex } from '../../src-main/reload/wire';
import { AorNotAllowedError } from '../../src-main/sip/registration/errors';
import { OverlayRegistrations } from '../../src-main/sip/registration/overlay-registrations';
import {
  encodeSipRegistration,
  SIP_REGISTRATION_KIND,
  type SipRegistration,
} from '../../src-main/sip/sip-registration';

const OVERLAY = 'sim.example.org';

describe('SIP registration forgery (USER-NODE-MATCH and domain restriction at the storing peer)', () => {
  it('refuses forged route records with Error_Forbidden and leaves the victim’s record intact', async () => {
    // The overlay serves only its own domain (sip:domain-restriction enable=false).
    const kinds: StorageKind[] = [
      { ...defaultKinds()[0]!, sipDomainRestriction: { enabled: false, patterns: [] } },
      ...(defaultKinds().slice(1) as StorageKind[]),
    ];
    const sim = await OverlaySimulation.create({ nodes: 5, seed: 12, publishCertificates: false, kinds });
    const eve = await sim.addNode({ userName: 'eve@evil.example' });
    for (let i = 0; i < sim.nodes.length; i++) await sim.start(i);
    await sim.run(3_000);
    expect(sim.ringErrors()).toEqual([]);
    const [victim, mallory, reader] = sim.nodes as [SimNode, SimNode, SimNode];
    const victimAor = `sim0@${OVERLAY}`;
    const malloryAor = `sim1@${OVERLAY}`;
    const log = createLogger({ level: 'error' });
    const victimRegs = new OverlayRegistrations({ node: victim.node, overlayName: OVERLAY, clock: sim.clock, log });
    await sim.until(victimRegs.register(victimAor, { bindingId: 'desk', expiresSec: 600, contactPrefs: '' }));

    const fetchVictim = async () => {
      const got = await sim.until(
        reader.node.storage.fetch(SIP_REGISTRATION_KIND, resourceIdFor(victimAor), { model: 'dictionary', keys: [] }),
      );
      return got.values.map((v) => {
        if (isOpaqueStoredData(v) || v.value.model !== 'dictionary') throw new Error('unexpected value shape');
        return {
          key: toHex(v.value.key),
          exists: v.value.value.exists,
          storageTime: v.storageTime,
          value: toHex(v.value.value.value),
        };
      });
    };
    const before = await fetchVictim();
    expect(before).toEqual([expect.objectContaining({ key: toHex(victim.node.nodeId), exists: true })]);

    // Mallory's own service refuses the victim's AOR locally.
    const malloryRegs = new OverlayRegistrations({ node: mallory.node, overlayName: OVERLAY, clock: sim.clock, log });
    await expect(
      malloryRegs.register(victimAor, { bindingId: 'x', expiresSec: 600, contactPrefs: '' }),
    ).rejects.toBeInstanceOf(AorNotAllowedError);

    const route = (to: SimNode): Uint8Array =>
      encodeSipRegistration(
        {
          type: 'route',
          contactPrefs: new Uint8Array(0),
          destinations: [{ type: 'node', id: to.node.nodeId }],
        } as SipRegistration,
        16,
      );
    const forge = async (attacker: SimNode, aor: string, key: Uint8Array) =>
      sim
        .until(
          attacker.node.storage.store(SIP_REGISTRATION_KIND, resourceIdFor(aor), [
            {
              lifetime: 600,
              value: { model: 'dictionary', key, value: { exists: true, value: route(attacker) } },
            },
          ]),
        )
        .catch((e: unknown) => e);
    const forbidden = (result: unknown) => {
      expect(result).toBeInstanceOf(ErrorResponseError);
      expect((result as ErrorResponseError).errorCode).toBe(ErrorCode.Forbidden);
    };

    // At H(victim's AOR) under Mallory's own Node-ID: her user name does not hash to it.
    forbidden(await forge(mallory, victimAor, mallory.node.nodeId));
    // At H(victim's AOR) overwriting the victim's own entry.
    forbidden(await forge(mallory, victimAor, victim.node.nodeId));
    // At Mallory's own AOR, but keyed by the victim's Node-ID (the key must be the signer's Node-ID).
    forbidden(await forge(mallory, malloryAor, victim.node.nodeId));
    // Eve's certificate names a domain the overlay does not serve: refused even at her own AOR and Node-ID.
    forbidden(await forge(eve, 'eve@evil.example', eve.node.nodeId));

    // Control: the same hand-built Store at Mallory's own AOR and Node-ID is accepted.
    expect(await forge(mallory, malloryAor, mallory.node.nodeId)).toMatchObject({ kindResponses: [{ kind: 1 }] });

    expect(await fetchVictim()).toEqual(before);
    await sim.until(victimRegs.stop());
  }, 120_000);
});
