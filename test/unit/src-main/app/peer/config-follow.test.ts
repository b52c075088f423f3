/** The headless peer refetches the configuration from its --config URL when a peer holds a newer one. */
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../../../src-main/common/logger';
import { followConfiguration } from '../../../../../src-main/app/peer/config-follow';
import type { ConfigurationStale, ReloadNode } from '../../../../../src-main/reload/node';

function fakeNode() {
  let stale: ((event: ConfigurationStale) => void) | undefined;
  const install = vi.fn((_text: string) => undefined);
  const node = {
    onConfigurationChanged: () => () => undefined,
    onConfigurationStale: (listener: (event: ConfigurationStale) => void) => {
      stale = listener;
      return () => (stale = undefined);
    },
    configuration: { install },
  } as unknown as ReloadNode;
  return { node, install, fire: (event: ConfigurationStale) => stale?.(event) };
}

const event: ConfigurationStale = { from: 'ab', ourSequence: 1, theirSequence: 2 };
const log = createLogger({ level: 'error' });

describe('following the configuration (headless peer)', () => {
  it('a --config URL is fetched again and the document installed', async () => {
    const { node, install, fire } = fakeNode();
    const fetchText = vi.fn(async () => '<overlay/>');
    followConfiguration(node, { source: 'https://overlay.example.org/.well-known/reload-config', log, fetchText });
    fire(event);
    fire(event); // while one fetch runs, no second
    await vi.waitFor(() => expect(install).toHaveBeenCalledWith('<overlay/>'));
    expect(fetchText).toHaveBeenCalledTimes(1);
  });

  it('a --config file is only logged, never rewritten', () => {
    const { node, install, fire } = fakeNode();
    const fetchText = vi.fn(async () => '');
    followConfiguration(node, { source: '/etc/overlay.xml', log, fetchText });
    fire(event);
    expect(fetchText).not.toHaveBeenCalled();
    expect(install).not.toHaveBeenCalled();
  });
});
