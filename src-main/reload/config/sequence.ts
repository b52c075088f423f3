/**
 * Configuration sequence numbers (RFC 6940 §6.3.2.1): 0..65534, increasing monotonically modulo 65535
 * (after 65534 comes 0), compared with serial arithmetic as TCP compares its sequence numbers. 65535 never
 * names a configuration: in a message header it marks a ConfigUpdate every node accepts.
 */

/** The sequence a ConfigUpdate request carries in its header, which every destination accepts. */
export const CONFIG_UPDATE_ANY_SEQUENCE = 0xffff;

const MODULUS = 65535;

/** True when `candidate` comes after `current` (1..32767 steps ahead, modulo 65535). */
export function isNewerSequence(candidate: number, current: number): boolean {
  const ahead = (((candidate - current) % MODULUS) + MODULUS) % MODULUS;
  return ahead >= 1 && ahead <= 32767;
}
