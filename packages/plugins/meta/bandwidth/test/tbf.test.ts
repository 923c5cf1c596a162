import { describe, expect, it } from 'vitest';
import { tbfFor, tbfMismatch, tcBurstBytes, tcTicksFor, tickInUsec } from '../src/tbf';

// /proc/net/psched of a high-resolution-timer kernel: 1000 / 64 → 15.625 ticks per microsecond.
const PSCHED = '000003e8 00000040 000f4240 3b9aca00\n';
const TICK = 15.625;

describe("TBF maths (the reference plugin's numbers, read back from the kernel over netlink)", () => {
  it('reads the tick length from /proc/net/psched', () => {
    expect(tickInUsec(PSCHED)).toBe(TICK);
    expect(tickInUsec('00000001 00000001 3b9aca00 3b9aca00')).toBe(1000);
  });

  it('rate in bytes/s, buffer in ticks of the burst, limit = 25 ms at rate + burst', () => {
    expect(tbfFor(10_000_000, 1_000_000, TICK)).toEqual({
      rate: 1_250_000,
      burst: 125_000,
      buffer: 1_562_500,
      limit: 156_250,
    });
    expect(tbfFor(12_345_678, 2_345_678, TICK)).toEqual({
      rate: 1_543_209,
      burst: 293_209,
      buffer: 2_968_734,
      limit: 331_789,
    });
  });

  it('picks the whole-byte burst whose tc ticks come closest to the reference buffer', () => {
    const t = tbfFor(12_345_678, 2_345_678, TICK);
    expect(tcBurstBytes(t, TICK)).toBe(293_208);
    expect(tcTicksFor(293_208, t.rate, TICK)).toBe(2_968_732);
    const round = tbfFor(10_000_000, 1_000_000, TICK);
    expect(tcTicksFor(tcBurstBytes(round, TICK), round.rate, TICK)).toBe(round.buffer);
  });

  it("compares what tc shows: rate exactly, burst and latency within tc's rounding", () => {
    const t = tbfFor(12_345_678, 2_345_678, TICK);
    expect(tbfMismatch({ rate: 1_543_209, burst: 293_206, lat: 25_001 }, t)).toBeUndefined();
    expect(tbfMismatch({ rate: 1_543_210, burst: 293_206, lat: 25_001 }, t)).toMatch(/rate/);
    expect(tbfMismatch({ rate: 1_543_209, burst: 290_000, lat: 25_001 }, t)).toMatch(/burst/);
    expect(tbfMismatch({ rate: 1_543_209, burst: 293_206, lat: 50_000 }, t)).toMatch(/latency/);
  });
});
