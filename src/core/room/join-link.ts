/**
 * The join link a leader shows (as text and QR code). A page opened on the laptop that runs the server
 * sits on a loopback origin (https://localhost:8443/), which no phone can reach: then the link uses the
 * server's first LAN URL instead, which the server hands to its pages (`/config.json`). Where the server
 * serves loopback only (the simulator, tests) it lists no LAN URL and the link keeps the page's origin.
 */

/** The part of `location` the link is made from. */
export interface PageLocation {
  readonly origin: string;
  readonly hostname: string;
  readonly pathname: string;
}

export function isLoopbackHostname(host: string): boolean {
  const h = host.toLowerCase();
  return (
    h === 'localhost' || h.endsWith('.localhost') || h === '[::1]' || h === '::1' || h.startsWith('127.')
  );
}

/** The base URL phones should open: the page's own, or the server's LAN URL when the page is on loopback. */
export function joinBase(page: PageLocation, lanUrls: readonly string[]): string {
  const own = `${page.origin}${page.pathname}`;
  const lan = lanUrls[0];
  if (!lan || !isLoopbackHostname(page.hostname)) return own;
  return new URL(page.pathname, lan).href;
}

/** The secret travels in the #fragment, which browsers never send to the server. */
export function joinLink(
  page: PageLocation,
  lanUrls: readonly string[],
  roomId: string,
  secret: string,
): string {
  const params = new URLSearchParams({ room: roomId, secret });
  return `${joinBase(page, lanUrls)}#${params}`;
}
