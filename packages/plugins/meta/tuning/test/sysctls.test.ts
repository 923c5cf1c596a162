import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repeatedKeys } from '../src/json-keys';
import { checkAllowlist, mergeSysctls, resolveSysctl, resolveSysctls, sameSysctlValue } from '../src/sysctls';

describe('sysctl keys', () => {
  it('dots and slashes separate segments; IFNAME becomes the interface, which stays one segment', () => {
    expect(resolveSysctl('net.ipv4.conf.IFNAME.arp_filter', '1', 'eth0', 'sysctl')).toEqual({
      key: 'net.ipv4.conf.IFNAME.arp_filter',
      path: '/proc/sys/net/ipv4/conf/eth0/arp_filter',
      sysctlKey: 'net.ipv4.conf.eth0.arp_filter',
      value: '1',
    });
    expect(resolveSysctl('net/ipv6/conf/IFNAME/accept_ra', '0', 'eth0.100', 'sysctl')).toMatchObject({
      path: '/proc/sys/net/ipv6/conf/eth0.100/accept_ra',
      sysctlKey: 'net.ipv6.conf.eth0/100.accept_ra',
    });
  });

  it('only keys under /proc/sys/net are accepted, and nothing can climb out of it', () => {
    for (const key of [
      'kernel.hostname',
      'net',
      '/kernel/net/x',
      'netfoo.x',
      'net.ipv4.conf.a b.x',
      'net.ipv4.IFNAME.x',
    ]) {
      expect(() => resolveSysctl(key, '1', key.includes('IFNAME') ? '..' : 'eth0', 'sysctl'), key).toThrow(
        /invalid net sysctl key/,
      );
    }
    expect(() => resolveSysctl('net/../../kernel/x', '1', 'eth0', 'sysctl')).toThrow(/invalid net sysctl key/);
    expect(() => resolveSysctl('net.ipv4.ip_forward', '1\nkernel.x=1', 'eth0', 'sysctl')).toThrow(/one line/);
  });

  it('two keys naming the same file are duplicates; args.cni entries override config entries', () => {
    expect(() => resolveSysctls({ 'net.ipv4.ip_forward': '1', 'net/ipv4/ip_forward': '0' }, 'eth0', 'sysctl')).toThrow(
      /duplicated sysctl keys/,
    );
    const base = resolveSysctls({ 'net.ipv4.conf.eth0.arp_filter': '1', 'net.ipv4.ip_forward': '1' }, 'eth0', 'sysctl');
    const merged = mergeSysctls(
      base,
      resolveSysctls({ 'net.ipv4.conf.IFNAME.arp_filter': '0' }, 'eth0', 'args.cni.sysctl'),
    );
    expect(merged.map((t) => [t.path, t.value])).toEqual([
      ['/proc/sys/net/ipv4/conf/eth0/arp_filter', '0'],
      ['/proc/sys/net/ipv4/ip_forward', '1'],
    ]);
  });

  it('the allowlist matches the key as written, unanchored like Go; a missing file allows all', () => {
    const dir = mkdtempSync(join(tmpdir(), 'allow-'));
    const file = join(dir, 'allowlist.conf');
    writeFileSync(file, '^net\\.ipv4\\.conf\\.IFNAME\\.\n# a comment\n\nping_group\n');
    const t = (key: string) => resolveSysctls({ [key]: '1' }, 'eth0', 'sysctl');
    expect(() => checkAllowlist(t('net.ipv4.conf.IFNAME.arp_filter'), file)).not.toThrow();
    expect(() => checkAllowlist(t('net.ipv4.ping_group_range'), file)).not.toThrow();
    expect(() => checkAllowlist(t('net.ipv4.conf.eth0.arp_filter'), file)).toThrow(
      /Sysctl net.ipv4.conf.eth0.arp_filter is not allowed/,
    );
    expect(() => checkAllowlist(t('net.ipv4.ip_forward'), join(dir, 'missing.conf'))).not.toThrow();
    writeFileSync(file, '([\n');
    expect(() => checkAllowlist(t('net.ipv4.ip_forward'), file)).toThrow(/invalid sysctl allowlist/);
  });

  it('values compare word by word', () => {
    expect(sameSysctlValue('0 1000', '0\t1000')).toBe(true);
    expect(sameSysctlValue('1', '1\n')).toBe(true);
    expect(sameSysctlValue('1', '0')).toBe(false);
  });
});

describe('repeated keys in the raw config', () => {
  it('finds a key repeated inside the watched objects only', () => {
    const text =
      '{"sysctl": {"net.a": "1", "x": {"y": [1, {"z": "}"}]}, "net.a" : "2"}, "args": {"cni": {"sysctl": {"k": "\\"", "k": "3"}}}, "other": {"d": 1, "d": 2}}';
    expect(repeatedKeys(text, [['sysctl'], ['args', 'cni', 'sysctl']])).toEqual([
      { path: 'sysctl', key: 'net.a' },
      { path: 'args.cni.sysctl', key: 'k' },
    ]);
    expect(repeatedKeys('{"sysctl":{"a":"1","b":"2"}}', [['sysctl']])).toEqual([]);
    expect(repeatedKeys('{"sysctl":', [['sysctl']])).toEqual([]);
  });
});
