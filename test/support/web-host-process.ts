/**
 * The real browser-mode host in its own Node process, for component tests: jsdom's module resolution picks
 * the `ws` package's browser stub, so the host cannot run inside the test itself. Prints its origin as one
 * JSON line on stdout and runs until killed. The backend behind it is never reached (tests use a bad token).
 */
import { EventHub } from '../../src-main/app/event-hub';
import { createLogger } from '../../src-main/common/logger';
import { createDispatcher, type Handlers } from '../../src-main/ipc/dispatcher';
import { startWebHost } from '../../src-main/host/web-server';
import { CHANNELS } from '../../src-shared/ipc/contract';

const log = createLogger({ level: 'error' });
// Nothing gets past the token check in these tests: every handler says so if one ever runs.
const unreachable = Object.fromEntries(
  CHANNELS.map((channel) => [
    channel,
    () => {
      throw new Error(`${channel} reached a backend the tests never authorise`);
    },
  ]),
) as unknown as Handlers;
const host = await startWebHost({
  backend: { dispatcher: createDispatcher(unreachable, log), events: new EventHub(log) },
  rendererDir: '/nonexistent',
  log,
});
process.stdout.write(JSON.stringify({ origin: host.origin }) + '\n');
process.on('SIGTERM', () => void host.close().then(() => process.exit(0)));
