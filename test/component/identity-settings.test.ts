/**
 * Settings → Identity: every certificate with its facts, renew now, export (a passphrase, then a download of
 * the text the backend hands back), import (a file and its passphrase) and forget (a confirmation that says
 * what is lost). The backend is scripted behind the real client and dispatcher.
 */
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from '../../src-renderer/App.svelte';
import { IDENTITY_FILE_MAX } from '../../src-shared/model/identity';
import { USER_ERROR_ADVICE } from '../../src-shared/model/user-errors';
import {
  certificate,
  EXPORTED_TEXT,
  FINGERPRINT,
  fakeBackend,
  joinedStatus,
  NODE_A,
  NODE_B,
  Refusal,
  type FakeBackend,
} from './support/fake-backend';

async function openIdentity(
  backend: FakeBackend = fakeBackend({ overlay: joinedStatus(), certificates: [certificate()] }),
) {
  render(App, { props: { client: backend.client } });
  await fireEvent.click(await screen.findByRole('button', { name: 'Settings' }));
  await fireEvent.click(screen.getByRole('button', { name: 'Identity' }));
  await screen.findByRole('heading', { level: 2, name: 'Identity' });
  return backend;
}

const card = (name = 'alice@example.org') => screen.getByRole('article', { name });

describe('Settings → Identity', () => {
  it('shows each certificate: user, Node-IDs, issuer, validity with days left, fingerprint, key algorithm', async () => {
    const backend = fakeBackend({
      overlay: joinedStatus(),
      certificates: [
        certificate(),
        certificate({
          id: 'cert-bob',
          userName: 'bob@local',
          overlay: 'local',
          nodeIds: [NODE_B, NODE_A],
          selfSigned: true,
          issuer: 'CN=bob',
          daysLeft: -3,
          active: false,
          keyAlgorithm: 'RSA 2048',
        }),
      ],
    });
    await openIdentity(backend);
    const alice = within(card());
    const fact = (c: typeof alice, term: string) => c.getByText(term, { selector: 'dt' }).nextElementSibling;
    expect(fact(alice, 'User')).toHaveTextContent('alice@example.org');
    expect(fact(alice, 'Node-ID')).toHaveTextContent(NODE_A);
    expect(fact(alice, 'Issuer')).toHaveTextContent('CN=example.org enrollment CA');
    expect(fact(alice, 'Valid from')).toHaveTextContent('2026');
    expect(fact(alice, 'Valid until')).toHaveTextContent('(55 days left)');
    expect(fact(alice, 'SHA-256 fingerprint')).toHaveTextContent(FINGERPRINT);
    expect(fact(alice, 'Key algorithm')).toHaveTextContent('ECDSA P-256');
    expect(alice.getByText('In use')).toBeInTheDocument();
    for (const name of ['Renew now', 'Export…', 'Forget…']) expect(alice.getByRole('button', { name })).toBeEnabled();

    const bob = within(card('bob@local'));
    expect(fact(bob, 'Node-IDs')).toHaveTextContent(NODE_B + NODE_A);
    expect(fact(bob, 'Issuer')).toHaveTextContent('Self-signed (CN=bob)');
    expect(fact(bob, 'Valid until')).toHaveTextContent('(expired 3 days ago)');
    expect(fact(bob, 'Key algorithm')).toHaveTextContent('RSA 2048');
    expect(bob.queryByText('In use')).toBeNull();
  });

  it('says so when there is no identity yet and still offers the import', async () => {
    await openIdentity(fakeBackend());
    expect(screen.getByText(/No identity on this device yet/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Import identity' })).toBeEnabled();
  });

  it('shows a failed automatic renewal as a notice with its advice', async () => {
    await openIdentity(
      fakeBackend({
        overlay: joinedStatus(),
        certificates: [
          certificate({
            renewal: {
              due: '2027-01-10T00:00:00.000Z',
              lastError: { code: 'wrong-password', message: 'the enrollment server refused the kept password', at: 1 },
            },
          }),
        ],
      }),
    );
    expect(card()).toHaveTextContent('Automatic renewal failed');
    const alert = within(card()).getByRole('alert');
    expect(alert).toHaveTextContent(USER_ERROR_ADVICE['wrong-password'].title);
    expect(alert).toHaveTextContent('The enrollment server refused the kept password.');
  });

  it('warns when the keychain is unavailable', async () => {
    const backend = fakeBackend({ overlay: joinedStatus(), certificates: [certificate()] });
    backend.identity = { ...backend.identity, keychain: 'unavailable' };
    await openIdentity(backend);
    expect(screen.getByRole('alert')).toHaveTextContent(USER_ERROR_ADVICE['keychain-unavailable'].title);
  });

  it('Renew now asks for a new certificate and shows the new validity (pushed identity.changed)', async () => {
    const backend = await openIdentity();
    await fireEvent.click(within(card()).getByRole('button', { name: 'Renew now' }));
    expect(await within(card()).findByRole('status')).toHaveTextContent('Renewed');
    expect(backend.callsTo('identity.renew')).toEqual([{ id: 'cert-alice' }]);
    expect(card()).toHaveTextContent('(144 days left)');
  });

  it('Renew now shows a refusal with its advice', async () => {
    const backend = await openIdentity();
    backend.handlers['identity.renew'] = () => {
      throw new Refusal('enrollment-refused', 'the enrollment server answered 429');
    };
    await fireEvent.click(within(card()).getByRole('button', { name: 'Renew now' }));
    expect(await within(card()).findByRole('alert')).toHaveTextContent(USER_ERROR_ADVICE['enrollment-refused'].action);
  });

  it('reloads live: a certificate added or forgotten elsewhere appears or goes (identity.changed)', async () => {
    const backend = await openIdentity();
    backend.setIdentity({
      keychain: 'available',
      certificates: [certificate({ id: 'x', userName: 'carol@example.org' })],
    });
    expect(await screen.findByRole('article', { name: 'carol@example.org' })).toBeInTheDocument();
    expect(screen.queryByRole('article', { name: 'alice@example.org' })).toBeNull();
  });
});

describe('export', () => {
  let blobs: Blob[];
  let downloads: { name: string; href: string }[];
  const keepDownload = (event: Event) => {
    const a = event.target as HTMLAnchorElement;
    if (a.tagName !== 'A' || !a.hasAttribute('download')) return;
    downloads.push({ name: a.download, href: a.href });
    event.preventDefault(); // jsdom cannot navigate; the browser would save the file.
  };

  beforeEach(() => {
    blobs = [];
    downloads = [];
    // jsdom has no Blob URLs; this stands in for the browser's registry, nothing of ours.
    URL.createObjectURL = vi.fn((blob: Blob) => (blobs.push(blob), `blob:test/${blobs.length}`));
    URL.revokeObjectURL = vi.fn();
    document.addEventListener('click', keepDownload, true);
  });
  afterEach(() => document.removeEventListener('click', keepDownload, true));

  it('asks for a passphrase, then downloads the text as the file the backend names', async () => {
    const backend = await openIdentity();
    await fireEvent.click(within(card()).getByRole('button', { name: 'Export…' }));
    const passphrase = screen.getByLabelText('Export passphrase');
    expect(passphrase).toHaveAttribute('type', 'password');
    await fireEvent.input(passphrase, { target: { value: 'a long passphrase' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save identity file' }));
    await waitFor(() => expect(downloads).toHaveLength(1));
    expect(backend.callsTo('identity.export')).toEqual([{ id: 'cert-alice', passphrase: 'a long passphrase' }]);
    expect(downloads[0]).toEqual({ name: 'alice@example.org.identity.pem', href: 'blob:test/1' });
    expect(await blobs[0]!.text()).toBe(EXPORTED_TEXT);
    expect(await within(card()).findByRole('status')).toHaveTextContent('Saved alice@example.org.identity.pem');
    expect(screen.queryByLabelText('Export passphrase')).toBeNull();
  });

  it('a short passphrase is refused with the rule, the passphrase is cleared and nothing is saved', async () => {
    await openIdentity();
    await fireEvent.click(within(card()).getByRole('button', { name: 'Export…' }));
    await fireEvent.input(screen.getByLabelText('Export passphrase'), { target: { value: 'short' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save identity file' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The passphrase must be at least 10 characters.');
    expect(alert.textContent).not.toContain('passphrase:');
    expect(screen.getByLabelText('Export passphrase')).toHaveValue('');
    expect(downloads).toEqual([]);
  });

  it('a file name from the backend with a folder in it is not used as given', async () => {
    const backend = await openIdentity();
    backend.handlers['identity.export'] = () => ({ fileName: '../../.bashrc', text: EXPORTED_TEXT });
    await fireEvent.click(within(card()).getByRole('button', { name: 'Export…' }));
    await fireEvent.input(screen.getByLabelText('Export passphrase'), { target: { value: 'a long passphrase' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save identity file' }));
    await waitFor(() => expect(downloads).toHaveLength(1));
    expect(downloads[0]!.name).toBe('identity.pem');
  });
});

describe('import', () => {
  async function importFile(file: File | undefined, passphrase: string): Promise<void> {
    const input = screen.getByLabelText('Identity file') as HTMLInputElement;
    Object.defineProperty(input, 'files', { value: file ? [file] : [], configurable: true });
    await fireEvent.change(input);
    await fireEvent.input(screen.getByLabelText('Passphrase'), { target: { value: passphrase } });
    await fireEvent.click(screen.getByRole('button', { name: 'Import identity' }));
  }

  it('reads the chosen file and sends its text with the passphrase', async () => {
    const backend = await openIdentity(fakeBackend());
    await importFile(new File([EXPORTED_TEXT], 'alice.pem'), 'a long passphrase');
    expect(await screen.findByText(/Imported alice@example.org/)).toBeInTheDocument();
    expect(backend.callsTo('identity.import')).toEqual([{ text: EXPORTED_TEXT, passphrase: 'a long passphrase' }]);
    expect(await screen.findByRole('article', { name: 'alice@example.org' })).toBeInTheDocument();
    expect(screen.getByLabelText('Passphrase')).toHaveValue('');
  });

  it('shows a wrong passphrase with its advice and clears the passphrase', async () => {
    const backend = await openIdentity(fakeBackend());
    backend.handlers['identity.import'] = () => {
      throw new Refusal('wrong-passphrase', 'the file could not be decrypted with this passphrase');
    };
    await importFile(new File([EXPORTED_TEXT], 'alice.pem'), 'not the one');
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent(USER_ERROR_ADVICE['wrong-passphrase'].title);
    expect(alert).toHaveTextContent(USER_ERROR_ADVICE['wrong-passphrase'].action);
    expect(screen.getByLabelText('Passphrase')).toHaveValue('');
  });

  it('refuses a file that is too large before reading it, and asks for a file when none was chosen', async () => {
    const backend = await openIdentity(fakeBackend());
    await importFile(new File(['x'.repeat(IDENTITY_FILE_MAX + 1)], 'huge.bin'), 'a long passphrase');
    expect(await screen.findByRole('alert')).toHaveTextContent('too large');
    await importFile(undefined, 'a long passphrase');
    expect(await screen.findByRole('alert')).toHaveTextContent('Choose the identity file you exported.');
    expect(backend.callsTo('identity.import')).toEqual([]);
  });
});

describe('forget', () => {
  it('asks first, says what is lost for an enrolled identity, and Cancel keeps everything', async () => {
    const backend = await openIdentity();
    const forget = within(card()).getByRole('button', { name: 'Forget…' });
    await fireEvent.click(forget);
    const dialog = screen.getByRole('alertdialog', { name: 'Forget alice@example.org on this device?' });
    expect(dialog).toHaveTextContent(
      'It cannot be recovered: only an identity file you exported earlier brings it back.',
    );
    expect(dialog).toHaveTextContent('to use the account again you enroll again with your user name and password');
    expect(dialog).toHaveTextContent('leaves the overlay first');
    await waitFor(() => expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Cancel' })));
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('alertdialog')).toBeNull();
    await waitFor(() => expect(document.activeElement).toBe(forget));
    expect(backend.callsTo('identity.forget')).toEqual([]);
  });

  it('Escape closes the dialog without forgetting', async () => {
    const backend = await openIdentity();
    await fireEvent.click(within(card()).getByRole('button', { name: 'Forget…' }));
    await fireEvent.keyDown(screen.getByRole('alertdialog'), { key: 'Escape' });
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(backend.callsTo('identity.forget')).toEqual([]);
  });

  it('says a self-signed identity gets a new Node-ID', async () => {
    await openIdentity(
      fakeBackend({ overlay: joinedStatus(), certificates: [certificate({ selfSigned: true, issuer: 'CN=alice' })] }),
    );
    await fireEvent.click(within(card()).getByRole('button', { name: 'Forget…' }));
    expect(screen.getByRole('alertdialog')).toHaveTextContent('a new one gets a new Node-ID');
  });

  it('Forget identity sends the confirmed request; the card goes and the status says not joined', async () => {
    const backend = await openIdentity();
    await fireEvent.click(within(card()).getByRole('button', { name: 'Forget…' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Forget identity' }));
    await waitFor(() => expect(screen.queryByRole('article', { name: 'alice@example.org' })).toBeNull());
    expect(backend.callsTo('identity.forget')).toEqual([{ id: 'cert-alice', confirm: true }]);
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(screen.getByRole('status', { name: 'Overlay status' })).toHaveTextContent('Not joined');
    // Back on the Overview, onboarding takes over.
    await fireEvent.click(screen.getByRole('button', { name: 'Overview' }));
    expect(await screen.findByRole('heading', { name: 'Welcome to Reload Softphone' })).toBeInTheDocument();
  });

  it('a refused forget stays in the dialog with the reason', async () => {
    const backend = await openIdentity();
    backend.handlers['identity.forget'] = () => {
      throw new Refusal('busy', 'a join is in progress');
    };
    await fireEvent.click(within(card()).getByRole('button', { name: 'Forget…' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Forget identity' }));
    const dialog = screen.getByRole('alertdialog');
    expect(await within(dialog).findByRole('alert')).toHaveTextContent(USER_ERROR_ADVICE.busy.title);
    expect(card()).toBeInTheDocument();
  });
});
