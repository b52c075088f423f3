/**
 * A ConfigUpdateService as a running node has it, holding `document`, over a transport that records what it is
 * asked to send and a storage that keeps the Kinds it is given (shared by the ConfigUpdate unit and attack tests).
 */
import { vi } from 'vitest';
import { createLogger } from '../../src-main/common/logger';
import { VirtualClock } from '../../src-main/reload/clock';
import { ConfigUpdateService, type ConfigUpdateOptions } from '../../src-main/reload/node';
import type { StorageKind } from '../../src-main/reload/storage';

export function configUpdateNode(document: string, extra: Partial<ConfigUpdateOptions> = {}) {
  const clock = new VirtualClock();
  const transport = { configSequence: 0, request: vi.fn(async (..._args: unknown[]) => ({}) as never) };
  const storage = {
    kinds: [] as readonly StorageKind[],
    setKinds(kinds: readonly StorageKind[]): number {
      storage.kinds = kinds;
      return 0;
    },
  };
  const service = new ConfigUpdateService({
    configuration: { document },
    transport: transport as unknown as ConfigUpdateOptions['transport'],
    storage,
    clock,
    now: Date.now,
    log: createLogger({ level: 'error' }),
    maxMessageSize: 64_000,
    ...extra,
  });
  return { service, transport, storage, clock };
}
