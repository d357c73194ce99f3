/**
 * The Host header check against DNS rebinding: a page on attacker.example whose name is made
 * to resolve to 127.0.0.1 reaches this server from the victim's browser as same-origin, but
 * its requests still say `Host: attacker.example:7421`. Only the names this server is really
 * reached by are accepted:
 *
 * - bound to a loopback address: `localhost`, `127.0.0.1`, `[::1]` (and the address bound);
 * - bound to another address: that address;
 * - bound to every address (0.0.0.0 or ::): the address of every local interface
 *   (os.networkInterfaces() when the server starts), `localhost` and os.hostname();
 * - plus `allowedHosts` (a name a proxy or DNS gives the server).
 *
 * A name is accepted with the server's port, or bare when the port is the scheme's default
 * (80, 443). An allowedHosts entry without a port accepts any port (behind a proxy the port
 * the browser used is the proxy's); an entry with a port only that port. Anything else
 * (another name, no Host at all) is refused with NOT_AUTHORIZED, 403.
 */
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { isLoopbackAddress } from '../util/index.js';

/** An address as it appears in a Host header: IPv6 in brackets, without a zone id. */
function hostForm(address: string): string {
  const withoutZone = address.split('%')[0]!.toLowerCase();
  return isIP(withoutZone) === 6 ? `[${withoutZone}]` : withoutZone;
}

/** Splits `name:port` (name may be `[v6]`); port null when absent. */
function splitHost(value: string): { name: string; port: string | null } {
  const text = value.trim().toLowerCase();
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(text);
  if (match === null) return { name: text, port: null };
  return { name: match[1]!, port: match[2] ?? null };
}

export class HostCheck {
  /** Names accepted with the server's port (or bare on the default port). */
  readonly #names = new Set<string>();
  /** allowedHosts entries without a port: any port. */
  readonly #anyPort = new Set<string>();
  /** allowedHosts entries with a port, as `name:port`. */
  readonly #exact = new Set<string>();
  readonly #port: string;
  readonly #defaultPort: boolean;

  constructor(options: {
    readonly address: string;
    readonly port: number;
    readonly secure: boolean;
    readonly allowedHosts?: readonly string[] | undefined;
  }) {
    this.#port = String(options.port);
    this.#defaultPort = options.port === (options.secure ? 443 : 80);
    const { address } = options;
    if (address === '0.0.0.0' || address === '::') {
      for (const entries of Object.values(networkInterfaces())) {
        for (const entry of entries ?? []) this.#names.add(hostForm(entry.address));
      }
      this.#names.add('localhost');
      this.#names.add(hostname().toLowerCase());
    } else if (isLoopbackAddress(address)) {
      for (const name of ['localhost', '127.0.0.1', '[::1]']) this.#names.add(name);
    }
    this.#names.add(hostForm(address));
    for (const entry of options.allowedHosts ?? []) {
      const { name, port } = splitHost(entry);
      if (name === '') continue;
      if (port === null) this.#anyPort.add(name);
      else this.#exact.add(`${name}:${port}`);
    }
  }

  /** Whether a request with this Host header is for this server. */
  allows(header: string | undefined): boolean {
    if (header === undefined || header === '') return false;
    const { name, port } = splitHost(header);
    if (this.#anyPort.has(name)) return true;
    if (port !== null && this.#exact.has(`${name}:${port}`)) return true;
    if (!this.#names.has(name)) return false;
    return port === null ? this.#defaultPort : port === this.#port;
  }
}
