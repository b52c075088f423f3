/**
 * The key a client is counted under by the login throttle and the server's connection caps. IPv4 addresses
 * (also IPv4-mapped IPv6) count one by one; IPv6 addresses count per /64, since one subscriber is commonly
 * given a whole /64 and could otherwise take a fresh address for every attempt.
 */
import { isIPv4, isIPv6 } from 'node:net';

function hextets(address: string): string[] {
  let text = address.replace(/%.*$/, ''); // zone index
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((h) => h.toLowerCase().replace(/^0+(?=.)/, ''));
}

export function clientAddressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (isIPv4(address)) return address;
  if (isIPv6(address)) return `${hextets(address).slice(0, 4).join(':')}::/64`;
  return address;
}
