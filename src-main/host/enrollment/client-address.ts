/**
 * The keys a client is counted under by the login throttle and the server's connection caps. IPv4 addresses
 * (also IPv4-mapped IPv6) count one by one; IPv6 addresses count per /64, since one subscriber is commonly
 * given a whole /64 and could otherwise take a fresh address for every attempt. Above that, the networks a
 * client shares with its neighbours get budgets of their own: IPv4 per /24, IPv6 per /56 and /48 (a subscriber
 * is often given a /56 or a /48, i.e. 256 or 65,536 /64s).
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

/**
 * The networks above the client's own key, narrowest first: IPv4 `a.b.c.0/24`; IPv6 `…/56` and `…/48`; none for
 * anything else. Takes an address or a key of clientAddressKey.
 */
export function clientNetworkKeys(address: string | undefined): string[] {
  const key = clientAddressKey(address);
  if (isIPv4(key)) return [`${key.slice(0, key.lastIndexOf('.'))}.0/24`];
  const v6 = /^([0-9a-f]+):([0-9a-f]+):([0-9a-f]+):([0-9a-f]+)::\/64$/.exec(key);
  if (!v6) return [];
  const [, a, b, c, d] = v6 as unknown as [string, string, string, string, string];
  return [`${a}:${b}:${c}:${(parseInt(d, 16) & 0xff00).toString(16)}::/56`, `${a}:${b}:${c}::/48`];
}
