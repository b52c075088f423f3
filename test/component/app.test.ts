/**
 * The shell: navigation, focus on view switch, skip link, the overlay status indicator, preferences, and what
 * it says and allows while the backend stops or the connection is lost. The backend is scripted
 * (support/fake-backend.ts) behind the real client and dispatcher.
 */
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import App from '../../src-renderer/App.svelte';
import { DISPLAY_NAME_MAX } from '../../src-shared/model/settings';
import { certificate, emptyStatus, fakeBackend, INFO, joinedStatus, type FakeBackend } from './support/fake-backend';

function renderApp(backend: FakeBackend = fakeBackend({ overlay: joinedStatus(), certificates: [certificate()] })) {
  render(App, { props: { client: backend.client } });
  return backend;
}

const indicator = () => screen.getByRole('status', { name: 'Overlay status' });

describe('app shell', () => {
  it('shows the navigation, the device facts and the connection and overlay state', async () => {
    renderApp();
    expect(await screen.findByRole('heading', { name: 'Welcome' })).toBeInTheDocument();
    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect(
      within(nav)
        .getAllByRole('button')
        .map((b) => b.textContent),
    ).toEqual(['Overview', 'Settings']);
    expect(screen.getByTestId('app-version')).toHaveTextContent('Reload Softphone 0.0.0-test');
    expect(screen.getByText(INFO.dataDir)).toBeInTheDocument();
    expect(screen.getByTestId('connection-state')).toHaveTextContent('Backend connected');
    expect(indicator()).toHaveAttribute('data-state', 'joined');
    expect(indicator()).toHaveTextContent('Online');
  });

  it('has a skip link as the first focusable element that moves the focus to the content', async () => {
    renderApp();
    await screen.findByRole('heading', { name: 'Welcome' });
    const skip = screen.getByRole('link', { name: 'Skip to content' });
    const focusable = document.querySelectorAll('a[href], button, input, [tabindex="0"]');
    expect(focusable[0]).toBe(skip);
    await fireEvent.click(skip);
    expect(document.activeElement).toBe(document.getElementById('content'));
    expect(document.activeElement?.tagName).toBe('MAIN');
  });

  it('moves the keyboard focus to the new view’s heading on every view switch', async () => {
    renderApp();
    await screen.findByRole('heading', { name: 'Welcome' });
    await fireEvent.click(screen.getByRole('button', { name: 'Settings' }));
    await waitFor(() =>
      expect(document.activeElement).toBe(screen.getByRole('heading', { level: 1, name: 'Settings' })),
    );
    expect(document.activeElement).toHaveAttribute('tabindex', '-1');
    await fireEvent.click(screen.getByRole('button', { name: 'Overview' }));
    await waitFor(() =>
      expect(document.activeElement).toBe(screen.getByRole('heading', { level: 1, name: 'Welcome' })),
    );
  });

  it('shows the overlay status in each state', async () => {
    const backend = renderApp(fakeBackend({ overlay: { ...emptyStatus(), state: 'joining' } }));
    await waitFor(() => expect(indicator()).toHaveAttribute('data-state', 'joining'));
    expect(indicator()).toHaveTextContent('Joining…');
    const cases = [
      [{ state: 'joined', reason: null }, 'Online'],
      [{ state: 'offline', reason: null }, 'Offline'],
      [{ state: 'offline', reason: 'no bootstrap peer answered' }, 'Offline: no bootstrap peer answered'],
      [{ state: 'partitioned', reason: 'no neighbours' }, 'Partitioned: no neighbours'],
      [{ state: 'no-identity', reason: null }, 'Not joined'],
    ] as const;
    for (const [patch, text] of cases) {
      backend.setOverlay(patch);
      await waitFor(() => expect(indicator()).toHaveAttribute('data-state', patch.state));
      expect(indicator().textContent?.trim()).toBe(text);
    }
  });

  it('shows the status indicator on every view', async () => {
    renderApp();
    await screen.findByRole('heading', { name: 'Welcome' });
    await fireEvent.click(screen.getByRole('button', { name: 'Settings' }));
    for (const section of ['Identity', 'Overlay', 'Preferences']) {
      await fireEvent.click(screen.getByRole('button', { name: section }));
      expect(indicator()).toHaveTextContent('Online');
    }
  });

  it('saves preferences through the bridge', async () => {
    const backend = renderApp();
    await fireEvent.click(await screen.findByRole('button', { name: 'Set display name' }));
    expect(screen.getByRole('heading', { level: 2, name: 'Preferences' })).toBeInTheDocument();
    await fireEvent.input(screen.getByLabelText('Display name'), { target: { value: 'Alice Liddell' } });
    await fireEvent.click(screen.getByRole('radio', { name: 'Dark' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('Saved')).toBeInTheDocument();
    expect(backend.callsTo('settings.update')).toEqual([{ displayName: 'Alice Liddell', theme: 'dark' }]);
    expect(document.documentElement.dataset.theme).toBe('dark');
    await fireEvent.click(screen.getByRole('button', { name: 'Overview' }));
    expect(screen.getByRole('heading', { name: 'Hello, Alice Liddell' })).toBeInTheDocument();
  });

  it('words a refused display name for people: no internal field name', async () => {
    renderApp();
    await fireEvent.click(await screen.findByRole('button', { name: 'Settings' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Preferences' }));
    await fireEvent.input(screen.getByLabelText('Display name'), {
      target: { value: 'x'.repeat(DISPLAY_NAME_MAX + 1) },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent(`Display name must be at most ${DISPLAY_NAME_MAX} characters`);
    expect(alert.textContent).not.toContain('displayName');
    expect(screen.getByLabelText('Display name')).toHaveAttribute('aria-invalid', 'true');
  });

  it('follows settings changed elsewhere (pushed settings.changed event)', async () => {
    const backend = renderApp();
    await screen.findByRole('heading', { name: 'Welcome' });
    backend.emit('settings.changed', { displayName: 'From another window', theme: 'system' });
    expect(await screen.findByRole('heading', { name: 'Hello, From another window' })).toBeInTheDocument();
  });

  it('explains a missing backend instead of spinning', () => {
    render(App, { props: { bridgeError: 'No backend: open the URL that `npm run start:web` printed' } });
    expect(screen.getByRole('alert')).toHaveTextContent('Cannot reach the softphone backend');
    expect(screen.getByRole('alert')).toHaveTextContent('npm run start:web');
  });
});

describe('backend stopping and connection loss', () => {
  it('says "shutting down", then "stopped" once the bridge closes, and disables Save throughout', async () => {
    const backend = renderApp();
    await fireEvent.click(await screen.findByRole('button', { name: 'Settings' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Preferences' }));
    await fireEvent.input(screen.getByLabelText('Display name'), { target: { value: 'Someone' } });
    expect(screen.getByRole('button', { name: 'Save' })).toBeEnabled();

    backend.emit('app.stopping', { reason: 'SIGTERM' });
    expect(await screen.findByText('The softphone backend is shutting down.')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Save' })).toBeDisabled();

    backend.setConnection('closed');
    await waitFor(() => expect(screen.queryByText('The softphone backend is shutting down.')).toBeNull());
    expect(screen.getByText(/The softphone backend has stopped\./)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Save' })).toBeDisabled();
    expect(screen.getByTestId('connection-state')).toHaveTextContent('Backend disconnected');
    expect(indicator()).toHaveAttribute('data-state', 'offline');
  });

  it('says the connection was lost when it closes without a stop, and disables every backend action', async () => {
    const backend = renderApp();
    await screen.findByRole('heading', { name: 'Welcome' });
    backend.setConnection('closed');
    expect(await screen.findByRole('alert')).toHaveTextContent('The connection to the softphone backend was lost');
    await fireEvent.click(screen.getByRole('button', { name: 'Settings' }));
    for (const name of ['Renew now', 'Import identity']) expect(screen.getByRole('button', { name })).toBeDisabled();
    await fireEvent.click(screen.getByRole('button', { name: 'Overlay' }));
    expect(screen.getByRole('button', { name: 'Leave and rejoin' })).toBeDisabled();
    await fireEvent.click(screen.getByRole('button', { name: 'Preferences' }));
    await fireEvent.input(screen.getByLabelText('Display name'), { target: { value: 'Someone' } });
    expect(screen.getByRole('button', { name: 'Save' })).toBeDisabled();
  });
});
