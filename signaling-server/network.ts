// Which addresses this machine answers on, and how to write them into URLs.
// Phones join over the LAN, so the server reports one URL per LAN IPv4 address
// and puts those same addresses into its self-signed certificate.
import os from 'node:os';

/** Non-internal IPv4 addresses of this machine (Wi-Fi, Ethernet, ...), sorted, without duplicates. */
export function lanIPv4Addresses(): string[] {
  const found = new Set<string>();
  for (const infos of Object.values(os.networkInterfaces())) {
    for (const info of infos ?? []) {
      // `family` is 'IPv4' on current Node; some older releases used the number 4.
      const isV4 = info.family === 'IPv4' || (info.family as unknown) === 4;
      if (isV4 && !info.internal) found.add(info.address);
    }
  }
  return [...found].sort();
}

/** Hosts that only this machine can reach: browsers treat http:// on them as a secure context. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return (
    h === 'localhost' || h.endsWith('.localhost') || h === '::1' || h === '[::1]' || h.startsWith('127.')
  );
}

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
