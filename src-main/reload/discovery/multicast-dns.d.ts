/**
 * Types for the part of multicast-dns 7 (and the dns-packet records it hands over) that local discovery uses.
 * The package ships no typings; these are written from its source. Everything that arrives from the network
 * is typed `unknown` on purpose: local-discovery checks each field before it believes it.
 */
declare module 'multicast-dns' {
  import type { EventEmitter } from 'node:events';
  import type { RemoteInfo } from 'node:dgram';

  export interface MulticastDnsOptions {
    /** The IPv4 address of the interface to join the group on and send from (all interfaces if absent). */
    interface?: string;
    /** The address to bind to (default: `interface`, which on Linux would keep multicast out: pass 0.0.0.0). */
    bind?: string | false;
    port?: number;
    ip?: string;
    type?: 'udp4' | 'udp6';
    multicast?: boolean;
    /** IP multicast TTL (default 255, as RFC 6762 §11 asks). */
    ttl?: number;
    /** Receive our own multicast (default true). */
    loopback?: boolean;
    reuseAddr?: boolean;
  }

  export interface OutgoingQuestion {
    name: string;
    type: string;
    class?: string;
  }

  export interface OutgoingRecord {
    name: string;
    type: string;
    ttl: number;
    class?: string;
    flush?: boolean;
    data: unknown;
  }

  export interface OutgoingPacket {
    id?: number;
    flags?: number;
    questions?: OutgoingQuestion[];
    answers?: OutgoingRecord[];
    additionals?: OutgoingRecord[];
  }

  /** A decoded packet: dns-packet's shape, but nothing in it is trusted. */
  export interface IncomingPacket {
    id?: unknown;
    type?: unknown;
    flags?: unknown;
    questions?: unknown;
    answers?: unknown;
    additionals?: unknown;
    authorities?: unknown;
  }

  export type SendCallback = (error?: Error | null) => void;

  export interface MulticastDns extends EventEmitter {
    query(packet: OutgoingPacket, callback?: SendCallback): void;
    query(packet: OutgoingPacket, to: { port: number; address: string }, callback?: SendCallback): void;
    respond(packet: OutgoingPacket, callback?: SendCallback): void;
    respond(packet: OutgoingPacket, to: { port: number; address: string }, callback?: SendCallback): void;
    destroy(callback?: () => void): void;
    on(event: 'query' | 'response' | 'packet', listener: (packet: IncomingPacket, rinfo: RemoteInfo) => void): this;
    on(event: 'ready' | 'networkInterface', listener: () => void): this;
    on(event: 'error' | 'warning', listener: (error: Error) => void): this;
    once(event: 'ready', listener: () => void): this;
    once(event: 'error', listener: (error: Error) => void): this;
    removeListener(event: 'ready', listener: () => void): this;
    removeListener(event: 'error', listener: (error: Error) => void): this;
  }

  export default function multicastDns(options?: MulticastDnsOptions): MulticastDns;
}
