import { describe, expect, it } from 'vitest';
import {
  declareMissing,
  hasSavedRule,
  restoreArg,
  restoreQuote,
  restoreTable,
  rulesJumpingTo,
  savedComment,
} from '../src/netfilter';

const SAVED = `*nat
:PREROUTING ACCEPT [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:CNI-DN-abc - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"net\\" id: \\"c1\\"" -m multiport --dports 80 -j CNI-DN-abc
-A CNI-HOSTPORT-DNAT -p udp -m comment --comment "dnat name: \\"net\\" id: \\"c2\\"" -m multiport --dports 53 -j CNI-DN-abcd
COMMIT
`;

describe('iptables-restore script helpers', () => {
  it('quote comments the way iptables-save prints them, and read them back', () => {
    const q = restoreQuote('dnat name: "net" id: "c1"');
    expect(q).toBe('"dnat name: \\"net\\" id: \\"c1\\""');
    expect(savedComment(`-A X -m comment --comment ${q} -j Y`)).toBe('dnat name: "net" id: "c1"');
    expect(savedComment('-A X -m comment --comment plain -j Y')).toBe('plain');
    expect(() => restoreQuote('a\nb')).toThrow();
    expect(() => restoreQuote('back\\slash')).toThrow();
  });

  it('refuse arguments that could break a restore line', () => {
    expect(restoreArg('!')).toBe('!');
    expect(restoreArg('10.0.0.0/8')).toBe('10.0.0.0/8');
    for (const bad of ['a b', '"x"', 'x#y', 'x;y', '', 'x\ny']) expect(() => restoreArg(bad)).toThrow();
  });

  it('declare only missing chains (a :CHAIN line flushes an existing one under --noflush)', () => {
    expect(declareMissing(SAVED, ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ'])).toEqual([':CNI-HOSTPORT-MASQ - [0:0]']);
  });

  it('find rules by exact text and by jump target (not a prefix of another chain name)', () => {
    expect(hasSavedRule(SAVED, 'PREROUTING', '-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT')).toBe(true);
    expect(hasSavedRule(SAVED, 'OUTPUT', '-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT')).toBe(false);
    const jumps = rulesJumpingTo(SAVED, 'CNI-HOSTPORT-DNAT', 'CNI-DN-abc');
    expect(jumps).toHaveLength(1);
    expect(jumps[0]).toMatch(/^-p tcp .* -j CNI-DN-abc$/);
  });

  it('wrap lines in one table section', () => {
    expect(restoreTable('nat', ['-F X'])).toBe('*nat\n-F X\nCOMMIT\n');
    expect(restoreTable('nat', [])).toBe('*nat\nCOMMIT\n');
  });
});
