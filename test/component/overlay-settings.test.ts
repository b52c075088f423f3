/** Settings → Overlay: the membership's facts, live updates, and "Leave and rejoin". */
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import App from '../../src-renderer/App.svelte';
import { USER_ERROR_ADVICE } from '../../src-shared/model/user-errors';
import {
  certificate,
  fakeBackend,
  joinedStatus,
  NODE_A,
  NODE_B,
  NODE_C,
  OFFER,
  Refusal,
  type FakeBackend,
} from './support/fake-backend';

async function openOverlay(
  backend: FakeBackend = fakeBackend({ overlay: joinedStatus(), certificates: [certificate()] }),
) {
  render(App, { props: { client: backend.client } });
  await fireEvent.click(await screen.findByRole('button', { name: 'Settings' }));
  await fireEvent.click(screen.getByRole('button', { name: 'Overlay' }));
  await screen.findByRole('heading', { level: 2, name: 'Overlay' });
  return backend;
}

const fact = (term: string) => screen.getByText(term, { selector: 'dt' }).nextElementSibling;

describe('Settings → Overlay', () => {
  it('shows the overlay, its configuration, our Node-ID, neighbours, links by transport and storage', async () => {
    await openOverlay();
    expect(fact('Overlay name')).toHaveTextContent('example.org');
    expect(fact('Configuration source')).toHaveTextContent(OFFER.url);
    expect(fact('Configuration sequence')).toHaveTextContent('7');
    expect(fact('Node-ID')).toHaveTextContent(NODE_A);
    expect(fact('Predecessors')).toHaveTextContent(NODE_B);
    expect(fact('Successors')).toHaveTextContent(NODE_C);
    expect(fact('Links')).toHaveTextContent('TLS-TCP-FH-NO-ICE: 2');
    expect(fact('Links')).toHaveTextContent('DTLS-UDP-SR: 1');
    expect(fact('Stored records')).toHaveTextContent('12');
    expect(fact('Stored bytes')).toHaveTextContent('4.0 KB');
    expect(fact('State')).toHaveTextContent('Online');
  });

  it('follows overlay.status events (a new neighbour, the local overlay)', async () => {
    const backend = await openOverlay();
    backend.setOverlay({
      local: true,
      overlay: 'reload-local',
      configuration: { source: 'embedded', sequence: 1, signer: null },
      successors: [NODE_B, NODE_C],
      predecessors: [],
    });
    await waitFor(() => expect(fact('Successors')).toHaveTextContent(NODE_B + NODE_C));
    expect(fact('Predecessors')).toHaveTextContent('none');
    expect(fact('Overlay name')).toHaveTextContent('reload-local (this network)');
    expect(fact('Configuration source')).toHaveTextContent('built in (local overlay)');
  });

  it('Leave and rejoin sends leave then join and shows the state of each', async () => {
    const backend = await openOverlay();
    await fireEvent.click(screen.getByRole('button', { name: 'Leave and rejoin' }));
    await waitFor(() => expect(backend.callsTo('overlay.join')).toHaveLength(1));
    expect(backend.calls.slice(-2).map((c) => c.channel)).toEqual(['overlay.leave', 'overlay.join']);
    await waitFor(() => expect(screen.getByRole('button', { name: 'Leave and rejoin' })).toBeEnabled());
    expect(screen.getByRole('status', { name: 'Overlay status' })).toHaveTextContent('Online');
  });

  it('a failed rejoin shows why with its advice, and the last error of the status', async () => {
    const backend = await openOverlay();
    backend.handlers['overlay.join'] = () => {
      backend.setOverlay({
        state: 'offline',
        reason: 'no bootstrap peer answered',
        lastError: { code: 'overlay-unreachable', message: 'no bootstrap peer answered within 30 s', at: Date.now() },
      });
      throw new Refusal('overlay-unreachable', 'no bootstrap peer answered within 30 s');
    };
    await fireEvent.click(screen.getByRole('button', { name: 'Leave and rejoin' }));
    await waitFor(() => expect(screen.getAllByRole('alert')).toHaveLength(2));
    for (const alert of screen.getAllByRole('alert')) {
      expect(alert).toHaveTextContent(USER_ERROR_ADVICE['overlay-unreachable'].title);
    }
    expect(fact('State')).toHaveTextContent('Offline: no bootstrap peer answered');
  });

  it('when offline, Leave and rejoin only joins (there is nothing to leave)', async () => {
    const backend = await openOverlay(
      fakeBackend({
        overlay: joinedStatus({ state: 'offline', reason: 'left the overlay' }),
        certificates: [certificate()],
      }),
    );
    await fireEvent.click(screen.getByRole('button', { name: 'Leave and rejoin' }));
    await waitFor(() => expect(backend.callsTo('overlay.join')).toHaveLength(1));
    expect(backend.callsTo('overlay.leave')).toEqual([]);
    await waitFor(() => expect(fact('State')).toHaveTextContent('Online'));
  });

  it('has nothing to rejoin without an identity', async () => {
    await openOverlay(fakeBackend());
    expect(screen.getByRole('button', { name: 'Leave and rejoin' })).toBeDisabled();
    expect(fact('Overlay name')).toHaveTextContent('none chosen yet');
  });
});
