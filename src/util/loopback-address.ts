/**
 * Whether an address is this machine's own: a listen address that reaches only this machine
 * (`weir serve` opens a broker without users, dev mode, only there, as Redis' protected mode
 * does; the console's Host check), or a peer's address that is loopback (AMQP's `guest`).
 */
import { isIPv4, isIPv6 } from 'node:net';

/**
 * 127.0.0.0/8, ::1 (also IPv4-mapped, ::ffff:127.x.y.z) and the name `localhost`. Anything
 * else — 0.0.0.0, ::, a routable address, any other host name (it may resolve to anything) —
 * is not loopback.
 */
export function isLoopbackAddress(host: string): boolean {
  const address = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (address === 'localhost') return true;
  if (isIPv4(address)) return address.startsWith('127.');
  if (isIPv6(address)) {
    if (address === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(address)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
    return mapped !== null && mapped[1]!.startsWith('127.');
  }
  return false;
}
