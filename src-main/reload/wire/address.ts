/** IpAddressPort (RFC 6940 §6.3.1.1). Addresses stay bytes (4 or 16), so the codec needs no parsing. */
import type { Reader } from './reader';
import type { Writer } from './writer';

export type IpAddressPort =
  { family: 4; address: Uint8Array; port: number } | { family: 6; address: Uint8Array; port: number };

export function readIpAddressPort(r: Reader): IpAddressPort {
  return r.named('IpAddressPort', () => {
    const at = r.pos;
    const type = r.u8('type');
    const len = r.u8('length');
    if (type === 1) {
      if (len !== 6) throw r.fail(`IPv4 address length must be 6, not ${len}`, 'length', at + 1);
      return { family: 4, address: r.fixed(4, 'addr'), port: r.u16('port') };
    }
    if (type === 2) {
      if (len !== 18) throw r.fail(`IPv6 address length must be 18, not ${len}`, 'length', at + 1);
      return { family: 6, address: r.fixed(16, 'addr'), port: r.u16('port') };
    }
    throw r.fail(`unknown AddressType ${type}`, 'type', at);
  });
}

export function writeIpAddressPort(w: Writer, a: IpAddressPort): void {
  w.named('IpAddressPort', () => {
    if (a.family === 4) {
      w.u8(1);
      w.u8(6);
      w.fixed(a.address, 4, 'addr');
    } else if (a.family === 6) {
      w.u8(2);
      w.u8(18);
      w.fixed(a.address, 16, 'addr');
    } else {
      throw w.fail('family must be 4 or 6', 'type');
    }
    w.u16(a.port, 'port');
  });
}
