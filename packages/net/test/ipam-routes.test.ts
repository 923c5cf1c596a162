import { describe, expect, it } from 'vitest';
import { canonicalRoutes } from '../src/pod';

describe('IPAM routes (ipam-routes.ts)', () => {
  it('canonicalizes dst and gw and names the bad field', () => {
    expect(
      canonicalRoutes(
        [
          { dst: 'FD00:0::/64', gw: 'fd00:0:0::1' },
          { dst: '0.0.0.0/0', priority: 5 },
        ],
        'ipam.routes',
      ),
    ).toEqual([
      { dst: 'fd00::/64', gw: 'fd00::1' },
      { dst: '0.0.0.0/0', priority: 5 },
    ]);
    expect(() => canonicalRoutes([{ dst: '0.0.0.0/0' }, { dst: 'nope' }], 'ipam.routes')).toThrow('ipam.routes[1].dst');
  });
});
