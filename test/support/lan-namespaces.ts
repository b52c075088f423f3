/**
 * A two-host LAN for multicast tests, made of network namespaces by the test and removed after it:
 *   lan-a (10.77.0.1/24) eth0 ══ veth ══ eth0 (10.77.0.2/24) lan-b
 * The host's own interfaces are never touched: the veth pair is created inside lan-a with its peer end placed
 * straight into lan-b. Each side has lo up and a route for 224.0.0.0/4 on eth0, so programs that do not name
 * an interface send their multicast onto the link too (there is no default route).
 */
import { execFileSync } from 'node:child_process';

export interface LanNamespaces {
  a: string;
  b: string;
  addressA: string;
  addressB: string;
  /** Runs a command inside a namespace, returning its stdout. */
  exec(namespace: string, command: string[]): string;
  remove(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Why the namespaces cannot be made here, or undefined if they can (root, `ip netns`, veth pairs). */
export function lanNamespacesUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `rl-mdprobe-${process.pid}`;
  try {
    ip('netns', 'add', probe);
  } catch (error) {
    return `ip netns does not work here: ${(error as Error).message.split('\n')[0]}`;
  }
  try {
    ip('netns', 'exec', probe, 'ip', 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1');
  } catch (error) {
    return `cannot create a veth pair: ${(error as Error).message.split('\n')[0]}`;
  } finally {
    try {
      ip('netns', 'del', probe);
    } catch {
      // already gone
    }
  }
  return undefined;
}

export function createLanNamespaces(): LanNamespaces {
  const tag = `${process.pid % 100000}`;
  const a = `rl-mda-${tag}`;
  const b = `rl-mdb-${tag}`;
  const inNs = (ns: string, ...args: string[]) => ip('netns', 'exec', ns, ...args);
  const remove = () => removeNamespaces([a, b]);
  remove(); // leftovers of an earlier run that had our pid
  try {
    ip('netns', 'add', a);
    ip('netns', 'add', b);
    inNs(a, 'ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b);
    for (const [ns, address] of [
      [a, '10.77.0.1'],
      [b, '10.77.0.2'],
    ] as const) {
      inNs(ns, 'ip', 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      inNs(ns, 'ip', 'link', 'set', 'eth0', 'up');
      inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
      inNs(ns, 'ip', 'route', 'add', '224.0.0.0/4', 'dev', 'eth0');
    }
  } catch (error) {
    remove();
    throw error;
  }
  return {
    a,
    b,
    addressA: '10.77.0.1',
    addressB: '10.77.0.2',
    exec: (ns, command) => inNs(ns, ...command),
    remove,
  };
}

/** A LAN of several hosts on one switch: each host namespace's eth0 is a veth port of a bridge in its own namespace. */
export interface BridgedLan {
  /** The host namespaces, in order. */
  hosts: string[];
  /** Each host's eth0 address (10.78.0.1, 10.78.0.2, …). */
  addresses: string[];
  /** Runs a command inside a namespace, returning its stdout. */
  exec(namespace: string, command: string[]): string;
  remove(): void;
}

/**
 *   rl-sw-<pid> (bridge br0, multicast snooping off)
 *     ├─ p1 ══ veth ══ eth0 10.78.0.1/24  rl-h1-<pid>
 *     ├─ p2 ══ veth ══ eth0 10.78.0.2/24  rl-h2-<pid>
 *     └─ …
 * The host's own interfaces are never touched: every veth pair is created inside the switch namespace and its
 * host end moved straight into its host namespace. Each host has lo up and a 224.0.0.0/4 route on eth0.
 */
export function createBridgedLan(count: number): BridgedLan {
  const tag = `${process.pid % 100000}`;
  const sw = `rl-sw-${tag}`;
  const hosts = Array.from({ length: count }, (_, i) => `rl-h${i + 1}-${tag}`);
  const addresses = hosts.map((_, i) => `10.78.0.${i + 1}`);
  const inNs = (ns: string, ...args: string[]) => ip('netns', 'exec', ns, ...args);
  const remove = () => removeNamespaces([...hosts, sw]);
  remove(); // leftovers of an earlier run that had our pid
  try {
    ip('netns', 'add', sw);
    inNs(sw, 'ip', 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0');
    inNs(sw, 'ip', 'link', 'set', 'br0', 'up');
    hosts.forEach((ns, i) => {
      ip('netns', 'add', ns);
      inNs(sw, 'ip', 'link', 'add', `p${i + 1}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      inNs(sw, 'ip', 'link', 'set', `p${i + 1}`, 'master', 'br0');
      inNs(sw, 'ip', 'link', 'set', `p${i + 1}`, 'up');
      inNs(ns, 'ip', 'addr', 'add', `${addresses[i]}/24`, 'dev', 'eth0');
      inNs(ns, 'ip', 'link', 'set', 'eth0', 'up');
      inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
      inNs(ns, 'ip', 'route', 'add', '224.0.0.0/4', 'dev', 'eth0');
    });
  } catch (error) {
    remove();
    throw error;
  }
  return { hosts, addresses, exec: (ns, command) => inNs(ns, ...command), remove };
}

/** Deletes network namespaces, ignoring those already gone. */
function removeNamespaces(names: readonly string[]): void {
  for (const ns of names) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // already gone
    }
  }
}
