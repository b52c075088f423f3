/**
 * Onboarding: the local overlay (user name only) and an operator's overlay (find, the signer's offer, accept,
 * user name and password), the live progress of each step, and every condition a person can act on shown
 * with its advice. Requests go through the real client and dispatcher, so each payload the UI sends must
 * pass the contract.
 */
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import App from '../../src-renderer/App.svelte';
import { JOIN_STEPS, JOIN_STEP_LABELS } from '../../src-shared/model/overlay';
import { USER_ERROR_ADVICE, USER_ERROR_CODES } from '../../src-shared/model/user-errors';
import {
  certificate,
  fakeBackend,
  gate,
  OFFER,
  Refusal,
  SIGNER_FINGERPRINT,
  type FakeBackend,
} from './support/fake-backend';

async function start(backend: FakeBackend = fakeBackend()) {
  render(App, { props: { client: backend.client } });
  await screen.findByRole('heading', { level: 1, name: 'Welcome to Reload Softphone' });
  return backend;
}

async function findOperatorOffer(): Promise<void> {
  await fireEvent.click(screen.getByRole('radio', { name: 'An operator’s overlay' }));
  await fireEvent.input(screen.getByRole('textbox', { name: 'Overlay name or configuration URL' }), {
    target: { value: 'example.org' },
  });
  await fireEvent.click(screen.getByRole('button', { name: 'Find overlay' }));
  await screen.findByRole('region', { name: 'Configuration signer' });
}

async function enroll(userName: string, password: string): Promise<void> {
  await fireEvent.input(screen.getByRole('textbox', { name: 'User name' }), { target: { value: userName } });
  await fireEvent.input(screen.getByLabelText('Password'), { target: { value: password } });
  await fireEvent.click(screen.getByRole('button', { name: 'Join' }));
}

const progressItems = () => within(screen.getByRole('list', { name: 'Join progress' })).getAllByRole('listitem');

describe('onboarding', () => {
  it('is shown while there is no identity: one sentence on what the app does, the local overlay by default', async () => {
    await start();
    expect(screen.getByText(/lets you call people directly over a peer-to-peer network/)).toBeInTheDocument();
    const group = screen.getByRole('group', { name: 'Where do you want to join?' });
    expect(within(group).getByRole('radio', { name: 'This network (no account needed)' })).toBeChecked();
    expect(within(group).getByRole('radio', { name: 'An operator’s overlay' })).not.toBeChecked();
    expect(screen.getByRole('textbox', { name: 'User name' })).toBeInTheDocument();
    expect(screen.queryByLabelText('Password')).toBeNull();
    expect(screen.getByRole('status', { name: 'Overlay status' })).toHaveTextContent('Not joined');
  });

  it('local overlay: a self-signed identity for the user name, then join; then the Overview', async () => {
    const backend = await start();
    await fireEvent.input(screen.getByRole('textbox', { name: 'User name' }), { target: { value: 'Alice' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Join' }));
    const overview = await screen.findByRole('heading', { level: 1, name: 'Welcome' });
    expect(backend.calls.map((c) => c.channel)).toEqual([
      'overlay.status',
      'identity.status',
      'app.info',
      'settings.get',
      'identity.createSelfSigned',
      'overlay.join',
    ]);
    expect(backend.callsTo('identity.createSelfSigned')).toEqual([{ overlay: { kind: 'local' }, userName: 'Alice' }]);
    await waitFor(() => expect(document.activeElement).toBe(overview));
    expect(screen.getByRole('status', { name: 'Overlay status' })).toHaveTextContent('Online');
    expect(screen.queryByRole('heading', { name: 'Welcome to Reload Softphone' })).toBeNull();
  });

  it('shows every join step with its live status while joining', async () => {
    const backend = await start();
    const hold = gate();
    const join = backend.handlers['overlay.join'];
    backend.handlers['overlay.join'] = async (payload) => {
      backend.setOverlay({
        state: 'joining',
        steps: [
          ...backend.overlay.steps,
          { step: 'links', status: 'active', detail: '1 of 2 links' },
          { step: 'ring', status: 'pending' },
        ],
      });
      await hold.promise;
      return join(payload);
    };
    await fireEvent.input(screen.getByRole('textbox', { name: 'User name' }), { target: { value: 'alice' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Join' }));
    await waitFor(() => expect(progressItems()[3]).toHaveAttribute('data-status', 'active'));
    const items = progressItems();
    expect(items.map((li) => li.dataset.step)).toEqual([...JOIN_STEPS]);
    expect(items.map((li) => li.dataset.status)).toEqual(['done', 'done', 'done', 'active', 'pending', 'pending']);
    expect(items[0]).toHaveTextContent(`${JOIN_STEP_LABELS.configuration}: done`);
    expect(items[3]).toHaveTextContent(`${JOIN_STEP_LABELS.links}: in progress… (1 of 2 links)`);
    expect(items[5]).toHaveTextContent(`${JOIN_STEP_LABELS.registered}: waiting`);
    expect(screen.getByRole('status', { name: 'Overlay status' })).toHaveTextContent('Joining…');
    expect(screen.getByText('Joining local as alice@local…')).toBeInTheDocument();
    expect(screen.queryByText(/did not finish/)).toBeNull();
    // The identity exists now, yet onboarding stays until the join has finished.
    expect(screen.getByRole('heading', { name: 'Welcome to Reload Softphone' })).toBeInTheDocument();
    hold.open();
    await screen.findByRole('heading', { level: 1, name: 'Welcome' });
  });

  it('operator overlay: finds it, shows the signer for the user to accept, then enrolls and joins', async () => {
    const backend = await start();
    await findOperatorOffer();
    expect(backend.callsTo('overlay.discover')).toEqual([{ source: 'example.org' }]);
    const offer = screen.getByRole('region', { name: 'Configuration signer' });
    expect(offer).toHaveTextContent(OFFER.overlay);
    expect(offer).toHaveTextContent(OFFER.url);
    expect(within(offer).getByText('Sequence').nextElementSibling).toHaveTextContent('7');
    expect(offer).toHaveTextContent('CN=example.org configuration signer');
    expect(offer).toHaveTextContent(SIGNER_FINGERPRINT);
    // Nothing to type before the signer is accepted.
    expect(screen.queryByLabelText('Password')).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Accept signer' }));
    await waitFor(() => expect(document.activeElement).toBe(screen.getByRole('textbox', { name: 'User name' })));
    await enroll('alice', 'correct horse');
    await screen.findByRole('heading', { level: 1, name: 'Welcome' });
    expect(backend.callsTo('identity.enroll')).toEqual([
      {
        overlay: { kind: 'operator', offer: OFFER.offer, acceptSigner: SIGNER_FINGERPRINT },
        userName: 'alice',
        password: 'correct horse',
      },
    ]);
    expect(backend.calls.at(-1)?.channel).toBe('overlay.join');
  });

  it('operator overlay without enrollment that permits self-signed identities: user name only', async () => {
    const backend = await start();
    backend.handlers['overlay.discover'] = () => ({ ...OFFER, enrollment: false, selfSignedPermitted: true });
    await findOperatorOffer();
    expect(screen.getByRole('region', { name: 'Configuration signer' })).toHaveTextContent('No account needed');
    await fireEvent.click(screen.getByRole('button', { name: 'Accept signer' }));
    expect(screen.queryByLabelText('Password')).toBeNull();
    await fireEvent.input(screen.getByRole('textbox', { name: 'User name' }), { target: { value: 'bob' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Join' }));
    await screen.findByRole('heading', { level: 1, name: 'Welcome' });
    expect(backend.callsTo('identity.createSelfSigned')).toEqual([
      { overlay: { kind: 'operator', offer: OFFER.offer, acceptSigner: SIGNER_FINGERPRINT }, userName: 'bob' },
    ]);
    expect(backend.callsTo('identity.enroll')).toEqual([]);
  });

  it('an overlay that gives out no identities says so and offers no Join', async () => {
    const backend = await start();
    backend.handlers['overlay.discover'] = () => ({ ...OFFER, enrollment: false, selfSignedPermitted: false });
    await findOperatorOffer();
    await fireEvent.click(screen.getByRole('button', { name: 'Accept signer' }));
    expect(screen.getByText(/gives out no identities/)).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Join' })).toBeNull();
  });

  it.each(USER_ERROR_CODES)(
    'shows "%s" with its advice, keeps the form filled and clears the password',
    async (code) => {
      const backend = await start();
      backend.handlers['identity.enroll'] = () => {
        throw new Refusal(code, `what happened (${code})`);
      };
      await findOperatorOffer();
      await fireEvent.click(screen.getByRole('button', { name: 'Accept signer' }));
      await enroll('alice', 'not the password');
      const alert = await screen.findByRole('alert');
      expect(alert).toHaveTextContent(USER_ERROR_ADVICE[code].title);
      expect(alert).toHaveTextContent(USER_ERROR_ADVICE[code].action);
      expect(alert).toHaveTextContent(`What happened (${code}).`);
      expect(alert.textContent).not.toMatch(/Error:|at .*\.ts|handler-failed|userName|password:/);
      if (code === 'offer-expired') {
        // The offer is fetched anew: back to "Find overlay" with the name still there.
        expect(screen.queryByRole('region', { name: 'Configuration signer' })).toBeNull();
        expect(screen.queryByLabelText('Password')).toBeNull();
      } else {
        expect(screen.getByRole('textbox', { name: 'User name' })).toHaveValue('alice');
        expect(screen.getByLabelText('Password')).toHaveValue('');
      }
      expect(screen.getByRole('textbox', { name: 'Overlay name or configuration URL' })).toHaveValue('example.org');
      expect(screen.getByRole('heading', { name: 'Welcome to Reload Softphone' })).toBeInTheDocument();
    },
  );

  it('a refused input shows the schema’s message for people, not the field path', async () => {
    await start();
    await fireEvent.click(screen.getByRole('button', { name: 'Join' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Please check what you entered');
    expect(alert).toHaveTextContent('Enter a user name.');
    expect(alert.textContent).not.toContain('userName');
  });

  it('an overlay name that is not a name or an https URL is refused with words for people', async () => {
    const backend = await start();
    await fireEvent.click(screen.getByRole('radio', { name: 'An operator’s overlay' }));
    await fireEvent.input(screen.getByRole('textbox', { name: 'Overlay name or configuration URL' }), {
      target: { value: 'http://example.org/config' },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Find overlay' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Enter an overlay name like example.org or an https:// configuration URL.',
    );
    expect(screen.getByRole('alert').textContent).not.toContain('source');
    expect(backend.callsTo('overlay.discover')).toHaveLength(1);
  });

  it('a failed join after the identity was made shows the status’s last error; retrying only joins', async () => {
    const backend = await start();
    backend.handlers['overlay.join'] = () => {
      backend.setOverlay({
        state: 'offline',
        reason: 'no bootstrap peer answered',
        lastError: { code: 'overlay-unreachable', message: 'no bootstrap peer answered within 30 s', at: Date.now() },
      });
      // Not a user code: the status says what went wrong.
      throw new Error('bootstrap failed');
    };
    await fireEvent.input(screen.getByRole('textbox', { name: 'User name' }), { target: { value: 'alice' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Join' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent(USER_ERROR_ADVICE['overlay-unreachable'].title);
    expect(alert).toHaveTextContent(USER_ERROR_ADVICE['overlay-unreachable'].action);
    expect(screen.getByRole('status', { name: 'Overlay status' })).toHaveTextContent(
      'Offline: no bootstrap peer answered',
    );
    expect(
      screen.getByText(/Your identity alice@local for local is ready, but joining did not finish/),
    ).toBeInTheDocument();

    backend.handlers['overlay.join'] = () => {
      backend.setOverlay({ state: 'joined', reason: null, lastError: null });
      return backend.overlay;
    };
    await fireEvent.click(screen.getByRole('button', { name: 'Join' }));
    await screen.findByRole('heading', { level: 1, name: 'Welcome' });
    expect(backend.callsTo('identity.createSelfSigned')).toHaveLength(1);
    expect(backend.callsTo('overlay.join')).toHaveLength(2);
  });

  it('when the backend already joins with the new identity (join refused as busy), waits for that join', async () => {
    const backend = await start();
    const hold = gate();
    backend.handlers['overlay.join'] = () => {
      backend.setOverlay({ state: 'joining', steps: [...backend.overlay.steps, { step: 'links', status: 'active' }] });
      void hold.promise.then(() => backend.setOverlay({ state: 'joined', reason: null }));
      throw new Refusal('busy', 'a join is in progress');
    };
    await fireEvent.input(screen.getByRole('textbox', { name: 'User name' }), { target: { value: 'alice' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Join' }));
    await waitFor(() => expect(progressItems()[3]).toHaveAttribute('data-status', 'active'));
    expect(screen.queryByRole('alert')).toBeNull();
    hold.open();
    await screen.findByRole('heading', { level: 1, name: 'Welcome' });
  });

  it('a busy refusal followed by a failed join shows the status’s last error, not "busy"', async () => {
    const backend = await start();
    backend.handlers['overlay.join'] = () => {
      backend.setOverlay({ state: 'joining' });
      setTimeout(() =>
        backend.setOverlay({
          state: 'offline',
          reason: 'certificate expired',
          lastError: { code: 'clock-skew', message: 'the certificate is not valid yet', at: Date.now() },
        }),
      );
      throw new Refusal('busy', 'a join is in progress');
    };
    await fireEvent.input(screen.getByRole('textbox', { name: 'User name' }), { target: { value: 'alice' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Join' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent(USER_ERROR_ADVICE['clock-skew'].title);
    expect(alert).not.toHaveTextContent(USER_ERROR_ADVICE.busy.title);
  });

  it('offers to restore an exported identity from Settings → Identity', async () => {
    await start();
    await fireEvent.click(screen.getByRole('button', { name: 'Restore an exported identity' }));
    expect(await screen.findByRole('heading', { level: 2, name: 'Identity' })).toBeInTheDocument();
    expect(screen.getByLabelText('Identity file')).toBeInTheDocument();
    await waitFor(() =>
      expect(document.activeElement).toBe(screen.getByRole('heading', { level: 1, name: 'Settings' })),
    );
  });

  it('is not shown once an identity exists (a restart rejoins without asking)', async () => {
    const backend = fakeBackend({ certificates: [certificate()] });
    backend.overlay = { ...backend.overlay, state: 'joining', userName: 'alice@example.org', overlay: 'example.org' };
    render(App, { props: { client: backend.client } });
    expect(await screen.findByRole('heading', { level: 1, name: 'Welcome' })).toBeInTheDocument();
    expect(screen.queryByRole('heading', { name: 'Welcome to Reload Softphone' })).toBeNull();
  });

  it('disables Join and Find overlay while the backend is not connected', async () => {
    const backend = await start();
    backend.setConnection('closed');
    await waitFor(() => expect(screen.getByRole('button', { name: 'Join' })).toBeDisabled());
    await fireEvent.click(screen.getByRole('radio', { name: 'An operator’s overlay' }));
    expect(screen.getByRole('button', { name: 'Find overlay' })).toBeDisabled();
  });
});
