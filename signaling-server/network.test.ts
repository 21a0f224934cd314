import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { lanIPv4Addresses } from './network';

const v4 = (address: string, internal = false): NetworkInterfaceInfo => ({
  address,
  netmask: '255.255.255.0',
  family: 'IPv4',
  mac: '00:00:00:00:00:00',
  internal,
  cidr: `${address}/24`,
});

describe('lanIPv4Addresses', () => {
  it('puts the Wi-Fi or Ethernet address before container bridges, VPNs and link-local ones', () => {
    const got = lanIPv4Addresses({
      lo: [v4('127.0.0.1', true)],
      docker0: [v4('172.17.0.1')],
      'br-5f3a': [v4('172.18.0.1')],
      wlp2s0: [v4('192.168.1.20')],
      tun0: [v4('10.8.0.2')],
      eth1: [v4('169.254.10.1')],
      enp3s0: [v4('10.0.0.7'), { ...v4('fe80::1'), family: 'IPv6', scopeid: 0 }],
    });
    expect(got).toEqual(['10.0.0.7', '192.168.1.20', '10.8.0.2', '172.17.0.1', '172.18.0.1', '169.254.10.1']);
  });

  it('lists an address once, at its best rank', () => {
    expect(lanIPv4Addresses({ docker0: [v4('10.1.1.1')], eth0: [v4('10.1.1.1')] })).toEqual(['10.1.1.1']);
  });
});
