/**
 * The Svelte shell against the real main-side services (dispatcher, settings on disk, event hub), joined by
 * an in-process transport that clones every message the way Electron's IPC does.
 */
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../src-main/app/backend';
import App from '../../src-renderer/App.svelte';
import { createClient } from '../../src-renderer/bridge';
import { DISPLAY_NAME_MAX } from '../../src-shared/model/settings';
import { inProcessTransport, tempDir, testBackend } from '../support/fixtures';

let dir: Awaited<ReturnType<typeof tempDir>>;
let backend: Backend;

beforeEach(async () => {
  dir = await tempDir();
  backend = await testBackend(dir.path);
});
afterEach(async () => dir.remove());

function renderApp() {
  return render(App, { props: { client: createClient(inProcessTransport(backend)) } });
}

describe('app shell', () => {
  it('shows the navigation, the device facts from app.info and the connection state', async () => {
    renderApp();
    expect(await screen.findByRole('heading', { name: 'Welcome' })).toBeInTheDocument();
    expect(screen.getByRole('navigation', { name: 'Main' })).toBeInTheDocument();
    expect(screen.getByTestId('app-version')).toHaveTextContent('Reload Softphone 0.0.0-test');
    expect(screen.getByText(dir.path)).toBeInTheDocument();
    expect(screen.getByTestId('connection-state')).toHaveTextContent('Backend connected');
  });

  it('saves settings through the bridge and persists them', async () => {
    renderApp();
    await fireEvent.click(await screen.findByRole('button', { name: 'Set display name' }));
    await fireEvent.input(screen.getByLabelText('Display name'), { target: { value: 'Alice Liddell' } });
    await fireEvent.click(screen.getByRole('radio', { name: 'Dark' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByRole('status')).toHaveTextContent('Saved');
    expect(backend.settings.get()).toEqual({ displayName: 'Alice Liddell', theme: 'dark' });
    expect(document.documentElement.dataset.theme).toBe('dark');
    await fireEvent.click(screen.getByRole('button', { name: 'Overview' }));
    expect(screen.getByRole('heading', { name: 'Hello, Alice Liddell' })).toBeInTheDocument();
  });

  it("shows the backend's field error for an invalid value and stores nothing", async () => {
    renderApp();
    await fireEvent.click(await screen.findByRole('button', { name: 'Settings' }));
    await fireEvent.input(screen.getByLabelText('Display name'), {
      target: { value: 'x'.repeat(DISPLAY_NAME_MAX + 1) },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(`at most ${DISPLAY_NAME_MAX} characters`);
    expect(screen.getByLabelText('Display name')).toHaveAttribute('aria-invalid', 'true');
    expect(backend.settings.get().displayName).toBe('');
  });

  it('follows settings changed elsewhere (pushed settings.changed event)', async () => {
    renderApp();
    await screen.findByRole('heading', { name: 'Welcome' });
    await backend.settings.update({ displayName: 'From another window' });
    expect(await screen.findByRole('heading', { name: 'Hello, From another window' })).toBeInTheDocument();
  });

  it('announces that the backend is stopping', async () => {
    renderApp();
    await screen.findByRole('heading', { name: 'Welcome' });
    await backend.stop('test');
    await waitFor(() => expect(screen.getByText('The softphone backend is shutting down.')).toBeInTheDocument());
  });

  it('explains a missing backend instead of spinning', () => {
    render(App, { props: { bridgeError: 'No backend: open the URL that `npm run start:web` printed' } });
    expect(screen.getByRole('alert')).toHaveTextContent('Cannot reach the softphone backend');
    expect(screen.getByRole('alert')).toHaveTextContent('npm run start:web');
  });
});
