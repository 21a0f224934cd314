// Which addresses this machine answers on, and how to write them into URLs.
// Phones join over the LAN, so the server reports one URL per LAN IPv4 address
// and puts those same addresses into its self-signed certificate.
import os from 'node:os';

/**
 * Interfaces that are rarely the Wi-Fi a phone shares with this machine: container and VM bridges,
 * virtual pairs and VPN tunnels. Their addresses are still listed, after the others.
 */
const VIRTUAL_INTERFACE =
  /^(docker|br-|veth|virbr|vmnet|vboxnet|cni|flannel|podman|lxc|lxd|tun|tap|wg|utun|zt)/;

/** The shape of `os.networkInterfaces()`, so the ordering can be tested without this machine's NICs. */
export type Interfaces = Readonly<Record<string, readonly os.NetworkInterfaceInfo[] | undefined>>;

/**
 * Non-internal IPv4 addresses of this machine (Wi-Fi, Ethernet, ...), without duplicates, the likeliest
 * LAN first: the first one goes into the join link and its QR code.
 */
export function lanIPv4Addresses(interfaces: Interfaces = os.networkInterfaces()): string[] {
  const found = new Map<string, number>(); // address → rank (lower is likelier)
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const info of infos ?? []) {
      // `family` is 'IPv4' on current Node; some older releases used the number 4.
      const isV4 = info.family === 'IPv4' || (info.family as unknown) === 4;
      if (!isV4 || info.internal) continue;
      const rank = (VIRTUAL_INTERFACE.test(name) ? 2 : 0) + (info.address.startsWith('169.254.') ? 4 : 0);
      found.set(info.address, Math.min(rank, found.get(info.address) ?? rank));
    }
  }
  return [...found].sort(([a, ra], [b, rb]) => ra - rb || a.localeCompare(b)).map(([a]) => a);
}

/** Hosts that only this machine can reach: browsers treat http:// on them as a secure context. */
export { isLoopbackHostname as isLoopbackHost } from '../src/core/room/join-link';

/** Hosts that mean "every interface". */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
}

/** True when `host` is a literal IPv4 address. */
export function isIPv4(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

/** Formats a base URL ("https://host:port/"), bracketing IPv6 literals. */
export function baseUrl(secure: boolean, host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${secure ? 'https' : 'http'}://${h}:${port}/`;
}
