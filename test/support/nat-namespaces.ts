/**
 * Three network namespaces for NAT tests, created by the test and removed after it:
 *   public (10.99.0.2/24) ── wan0 [router] lan0 ── private (10.88.0.2/24)
 * The router forwards between them and masquerades what leaves through wan0, so the private side reaches
 * the public side from 10.99.0.1 and nothing on the public side can reach 10.88.0.0/24 unasked. Veth
 * interfaces are named eth0/wan0/lan0 (werift-ice skips interfaces called veth*).
 */
import { execFileSync } from 'node:child_process';

export interface NatNamespaces {
  public: string;
  router: string;
  private: string;
  publicAddress: string;
  privateAddress: string;
  natAddress: string;
  /** Runs a command inside a namespace, returning its stdout. */
  exec(namespace: string, command: string[]): string;
  remove(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Why namespaces cannot be made here, or undefined if they can (root and a working `ip netns`). */
export function namespacesUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `rl-probe-${process.pid}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
  } catch (error) {
    return `ip netns does not work here: ${(error as Error).message.split('\n')[0]}`;
  }
  try {
    execFileSync('iptables', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'iptables is not installed';
  }
  return undefined;
}

export function createNatNamespaces(): NatNamespaces {
  const tag = `${process.pid % 100000}`;
  const pub = `rl-pub-${tag}`;
  const rtr = `rl-rtr-${tag}`;
  const prv = `rl-prv-${tag}`;
  const inNs = (ns: string, ...args: string[]) => ip('netns', 'exec', ns, ...args);
  const spaces = [pub, rtr, prv];
  const remove = () => {
    for (const ns of spaces) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
  };
  try {
    for (const ns of spaces) ip('netns', 'add', ns);
    // Veth pairs get unique names in the root namespace, then move and take their short names.
    ip('link', 'add', `rlw${tag}`, 'type', 'veth', 'peer', 'name', `rlp${tag}`);
    ip('link', 'add', `rll${tag}`, 'type', 'veth', 'peer', 'name', `rlq${tag}`);
    ip('link', 'set', `rlw${tag}`, 'netns', rtr, 'name', 'wan0');
    ip('link', 'set', `rlp${tag}`, 'netns', pub, 'name', 'eth0');
    ip('link', 'set', `rll${tag}`, 'netns', rtr, 'name', 'lan0');
    ip('link', 'set', `rlq${tag}`, 'netns', prv, 'name', 'eth0');
    inNs(rtr, 'ip', 'addr', 'add', '10.99.0.1/24', 'dev', 'wan0');
    inNs(rtr, 'ip', 'addr', 'add', '10.88.0.1/24', 'dev', 'lan0');
    inNs(pub, 'ip', 'addr', 'add', '10.99.0.2/24', 'dev', 'eth0');
    inNs(prv, 'ip', 'addr', 'add', '10.88.0.2/24', 'dev', 'eth0');
    for (const [ns, dev] of [
      [rtr, 'wan0'],
      [rtr, 'lan0'],
      [pub, 'eth0'],
      [prv, 'eth0'],
    ] as const)
      inNs(ns, 'ip', 'link', 'set', dev, 'up');
    for (const ns of spaces) inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
    inNs(prv, 'ip', 'route', 'add', 'default', 'via', '10.88.0.1');
    inNs(rtr, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
    inNs(rtr, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', '10.88.0.0/24', '-o', 'wan0', '-j', 'MASQUERADE');
    // Only replies (and what the private side started) come back in: the NAT's usual filtering.
    inNs(rtr, 'iptables', '-A', 'FORWARD', '-i', 'lan0', '-o', 'wan0', '-j', 'ACCEPT');
    inNs(
      rtr,
      'iptables',
      '-A',
      'FORWARD',
      '-i',
      'wan0',
      '-o',
      'lan0',
      '-m',
      'conntrack',
      '--ctstate',
      'ESTABLISHED,RELATED',
      '-j',
      'ACCEPT',
    );
    inNs(rtr, 'iptables', '-P', 'FORWARD', 'DROP');
  } catch (error) {
    remove();
    throw error;
  }
  return {
    public: pub,
    router: rtr,
    private: prv,
    publicAddress: '10.99.0.2',
    privateAddress: '10.88.0.2',
    natAddress: '10.99.0.1',
    exec: (ns, command) => inNs(ns, ...command),
    remove,
  };
}
