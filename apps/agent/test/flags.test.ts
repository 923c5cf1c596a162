import { describe, expect, it } from 'vitest';
import { UsageError, checkFlags, parseFlags } from '../src/flags';

describe("flanneld's flags, parsed as Go's flag package does", () => {
  it('has flanneld’s defaults', () => {
    const f = parseFlags([]);
    expect(f).toMatchObject({
      etcdPrefix: '/coreos.com/network',
      subnetFile: '/run/flannel/subnet.env',
      ipMasq: false,
      subnetLeaseRenewMargin: 60,
      etcdEndpoints: ['http://127.0.0.1:2379', 'http://127.0.0.1:4001'],
    });
  });

  it('accepts -flag=value, -flag value, --flag and --flag=value', () => {
    const f = parseFlags([
      '-etcd-endpoints=http://10.0.0.1:2379,http://10.0.0.2:2379',
      '-etcd-prefix',
      '/x/net',
      '--ip-masq',
      '--subnet-file=/tmp/s.env',
      '-subnet-lease-renew-margin',
      '30',
      '-iface',
      'eth0',
      '--iface=10.0.0.5',
    ]);
    expect(f.etcdEndpoints).toEqual(['http://10.0.0.1:2379', 'http://10.0.0.2:2379']);
    expect(f).toMatchObject({
      etcdPrefix: '/x/net',
      ipMasq: true,
      subnetFile: '/tmp/s.env',
      subnetLeaseRenewMargin: 30,
      iface: ['eth0', '10.0.0.5'],
    });
  });

  it('takes a boolean’s value only after =, as Go does', () => {
    expect(parseFlags(['-ip-masq=false']).ipMasq).toBe(false);
    expect(parseFlags(['-ip-masq=1']).ipMasq).toBe(true);
    expect(() => parseFlags(['-ip-masq=yes'])).toThrow(UsageError);
    expect(() => parseFlags(['-ip-masq', 'false'])).toThrow(/unexpected argument "false"/);
  });

  it('rejects unknown flags, missing values and non-integers with Go’s messages', () => {
    expect(() => parseFlags(['-kube-subnet-mgr'])).toThrow('flag provided but not defined: -kube-subnet-mgr');
    expect(() => parseFlags(['-etcd-prefix'])).toThrow('flag needs an argument: -etcd-prefix');
    expect(() => parseFlags(['-subnet-lease-renew-margin=1h'])).toThrow(/not an integer/);
  });

  it('reads FLANNELD_* environment variables for flags not on the command line', () => {
    const f = parseFlags(['-etcd-prefix=/cli'], {
      FLANNELD_ETCD_PREFIX: '/env',
      FLANNELD_IP_MASQ: 'true',
      FLANNELD_PUBLIC_IP: '10.1.2.3',
      FLANNELD_PUBLIC_IPV6: 'fd00::3',
    });
    expect(f).toMatchObject({ etcdPrefix: '/cli', ipMasq: true, publicIp: '10.1.2.3', publicIpv6: 'fd00::3' });
    expect(parseFlags(['-public-ipv6', '2001:db8::1']).publicIpv6).toBe('2001:db8::1');
  });

  it('checks that the flags fit together', () => {
    expect(checkFlags(parseFlags([]))).toEqual([]);
    expect(checkFlags(parseFlags(['-etcd-endpoints=10.0.0.1:2379', '-etcd-certfile=/c']))).toEqual([
      '-etcd-endpoints: "10.0.0.1:2379" is not http(s)://host:port',
      '-etcd-certfile and -etcd-keyfile go together',
    ]);
  });
});
