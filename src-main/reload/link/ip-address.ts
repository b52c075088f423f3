/** Text addresses ⇄ the wire's IpAddressPort (RFC 6940 §6.5.1.1 candidates), IPv4 and IPv6. */
import { isIP } from 'node:net';
import type { IpAddressPort } from '../wire';

export class InvalidAddressError extends Error {
  constructor(readonly host: string) {
    super(`not an IP address: ${host}`);
    this.name = 'InvalidAddressError';
  }
}

export function toIpAddressPort(host: string, port: number): IpAddressPort {
  const family = isIP(host);
  if (family === 4) return { family: 4, address: Uint8Array.from(host.split('.').map(Number)), port };
  if (family !== 6) throw new InvalidAddressError(host);
  const [head = '', tail] = (host.split('%')[0] ?? host).split('::');
  const groups = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const all = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  const address = new Uint8Array(16);
  all.forEach((g, i) => {
    address[i * 2] = g >> 8;
    address[i * 2 + 1] = g & 0xff;
  });
  return { family: 6, address, port };
}

/** The text form Node's sockets take (IPv6 uncompressed, which every socket API accepts). */
export function hostOf(a: IpAddressPort): string {
  if (a.family === 4) return Array.from(a.address).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((a.address[i] ?? 0) << 8) | (a.address[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}
