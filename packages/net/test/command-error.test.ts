import { describe, expect, it } from 'vitest';
import { CommandError, commandFailure, failureReason } from '../src/host/command-error';

describe('failed commands', () => {
  it('name the command, its argv and what the tool said', () => {
    const err = new CommandError('ip', ['-batch', '-'], 1, 'RTNETLINK answers: File exists\nCommand failed -:2\n');
    expect(err.message).toBe('ip -batch -: RTNETLINK answers: File exists\nCommand failed -:2');
    expect(new CommandError('busctl', ['call'], null, '').message).toBe('busctl call: exit code null');
  });

  it('give the reason on one line, without the batch trailer', () => {
    expect(
      failureReason(
        new CommandError('tc', ['-batch', '-'], 1, 'Error: Exclusivity flag on, cannot modify.\nCommand failed -:3\n'),
      ),
    ).toBe('Error: Exclusivity flag on, cannot modify.');
    expect(failureReason(new CommandError('ip', ['link'], 2, 'first\nsecond\n'))).toBe('first; second');
    expect(failureReason(new CommandError('conntrack', ['-D'], 1, ''))).toBe('conntrack -D: exit code 1');
    expect(failureReason(new Error('plain'))).toBe('plain');
  });

  it('wrap as a plain Error with context and the original as cause', () => {
    const cause = new CommandError('iptables-restore', ['--noflush'], 1, 'iptables-restore: line 3 failed\n');
    const err = commandFailure('failed to set up port mappings', cause);
    expect(err).not.toBeInstanceOf(CommandError);
    expect(err.message).toBe('failed to set up port mappings: iptables-restore: line 3 failed');
    expect(err.cause).toBe(cause);
  });
});
