import { isIPv4 } from 'node:net';
import { SipLocalHostError } from './errors';

/** 127.0.0.0/8 or ::1 (an IP literal; names are refused so resolution cannot widen the scope). */
export function isLoopbackAddress(host: string): boolean {
  if (isIPv4(host)) return host.startsWith('127.');
  const lower = host.toLowerCase();
  return lower === '::1' || lower === '0:0:0:0:0:0:0:1' || /^::ffff:127\.\d+\.\d+\.\d+$/.test(lower);
}

export function requireLoopback(host: string): string {
  if (!isLoopbackAddress(host)) throw new SipLocalHostError(host);
  return host;
}
