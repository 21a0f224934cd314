import { describe, expect, it } from 'vitest';
import { joinBase, joinLink } from './join-link';

const page = (href: string) => {
  const u = new URL(href);
  return { origin: u.origin, hostname: u.hostname, pathname: u.pathname };
};
const LAN = ['https://192.168.1.20:8443/', 'https://10.0.0.5:8443/'];

describe('join link', () => {
  it('a leader on a loopback origin links to the server’s first LAN URL', () => {
    expect(joinBase(page('https://localhost:8443/'), LAN)).toBe('https://192.168.1.20:8443/');
    expect(joinBase(page('https://127.0.0.1:8443/app/'), LAN)).toBe('https://192.168.1.20:8443/app/');
    expect(joinBase(page('http://[::1]:8443/'), LAN)).toBe('https://192.168.1.20:8443/');
  });

  it('keeps the page’s origin when it is already a LAN address, or the server serves no LAN', () => {
    expect(joinBase(page('https://10.0.0.5:8443/'), LAN)).toBe('https://10.0.0.5:8443/');
    expect(joinBase(page('http://127.0.0.1:5173/'), [])).toBe('http://127.0.0.1:5173/');
  });

  it('carries room and secret in the fragment, escaped', () => {
    const link = joinLink(page('https://localhost:8443/'), LAN, 'abc', 's/e+c=');
    const u = new URL(link);
    expect(u.origin).toBe('https://192.168.1.20:8443');
    const params = new URLSearchParams(u.hash.slice(1));
    expect(params.get('room')).toBe('abc');
    expect(params.get('secret')).toBe('s/e+c=');
  });
});
