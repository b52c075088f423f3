/**
 * A process that only forwards UDP datagrams: `udp-relay.ts <listenPort> <nextPort>`. What arrives from
 * 127.0.0.1:<nextPort> goes back to the last other sender; everything else goes to <nextPort>. Two of them in a
 * row are the floor of the SIP benchmark's overlay path (the caller's and the callee's peer as two Node
 * processes) with no SIP, no DTLS and no overlay: what the event loop and loopback alone cost on this host.
 * Says "up" over IPC once bound; exits with its parent.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';

const [listen, next] = process.argv.slice(2).map(Number);
if (
  !Number.isInteger(listen) ||
  !Number.isInteger(next) ||
  listen! < 1 ||
  next! < 1 ||
  listen! > 65535 ||
  next! > 65535
)
  throw new RangeError(`udp-relay: bad ports ${process.argv.slice(2).join(' ')}`);
const socket = createSocket('udp4');
let back: RemoteInfo | undefined;
socket.on('message', (message, from) => {
  if (from.port === next) {
    if (back) socket.send(message, back.port, back.address);
  } else {
    back = from;
    socket.send(message, next!, '127.0.0.1');
  }
});
process.on('disconnect', () => process.exit(0));
socket.bind(listen, '127.0.0.1', () => process.send?.('up'));
