/**
 * The headless peer's side of ConfigUpdate (docs/decisions.md): logs every configuration the node applies
 * (and what only a restart or rejoin would apply), and when another peer holds a newer configuration than
 * ours, fetches the document again from the --config URL and installs it; with a --config file, it logs
 * that the file is behind (the operator's file is never rewritten). A document too large for a ConfigUpdate
 * under its own max-message-size (not one `overlay init` writes) is worth a warning: peers with an older
 * configuration cannot be sent it and must refetch it.
 */
import type { Logger } from '../../common/logger';
import { configUpdateFits, fetchConfigurationText } from '../../reload/config';
import type { ReloadNode } from '../../reload/node';

export interface FollowOptions {
  /** The --config value: an https URL to refetch, or a file. */
  source: string;
  log: Logger;
  /** The overlay's name, which the fetched document must carry (default: the URL's host name). */
  overlayName?: string;
  /** Trust anchors for the HTTPS server instead of the system's (tests, the app's FetchSettings). */
  tlsCa?: (string | Buffer)[];
  /** Injected for tests; fetchConfigurationText otherwise. */
  fetchText?: (url: string) => Promise<string>;
}

/** Follows the node's configuration events; returns the function that stops following. */
export function followConfiguration(node: ReloadNode, o: FollowOptions): () => void {
  const isUrl = /^https?:\/\//.test(o.source);
  const fetchText =
    o.fetchText ??
    (async (url: string) =>
      (
        await fetchConfigurationText({
          overlayName: o.overlayName ?? new URL(url).hostname,
          url,
          ...(o.tlsCa ? { tlsCa: o.tlsCa } : {}),
        })
      ).text);
  let fetching = false;
  const checkSize = (document: string | undefined, maxMessageSize: number | undefined) => {
    if (document === undefined || maxMessageSize === undefined || configUpdateFits(document, maxMessageSize)) return;
    o.log.warn('the configuration document is too large for a ConfigUpdate: peers with an older one must refetch it', {
      bytes: Buffer.byteLength(document),
      maxMessageSize,
    });
  };
  checkSize(node.configuration.document, node.configuration.current?.maxMessageSize);
  const offChanged = node.onConfigurationChanged((change) => {
    checkSize(change.document, change.configuration.maxMessageSize);
    o.log.info('configuration updated', {
      cause: change.cause,
      ...(change.from ? { from: change.from } : {}),
      sequence: change.configuration.sequence,
      previousSequence: change.previousSequence,
      kindsAdded: change.kindsAdded,
      kindsChanged: change.kindsChanged,
      kindsRemoved: change.kindsRemoved,
    });
    if (change.rejoin.length > 0 || change.restart.length > 0)
      o.log.warn('the new configuration changes what a running peer does not apply: restart the peer', {
        rejoin: change.rejoin,
        restart: change.restart,
      });
    if (!isUrl && change.cause !== 'local')
      o.log.warn('the --config file is older than the overlay’s configuration', {
        file: o.source,
        sequence: change.configuration.sequence,
      });
  });
  const offStale = node.onConfigurationStale((event) => {
    if (!isUrl) {
      o.log.warn('a peer holds a newer configuration than the --config file', { ...event, file: o.source });
      return;
    }
    if (fetching) return;
    fetching = true;
    o.log.info('a peer holds a newer configuration; fetching it again', { ...event, url: o.source });
    fetchText(o.source)
      .then((text) => node.configuration.install(text))
      .then((change) => {
        if (!change) o.log.info('the configuration server has nothing newer yet', { url: o.source });
      })
      .catch((error: Error) => o.log.warn('refetching the configuration failed', { error: error.message }))
      .finally(() => (fetching = false));
  });
  return () => {
    offChanged();
    offStale();
  };
}
