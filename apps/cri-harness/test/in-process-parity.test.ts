/**
 * The harness's in-process path against the bundle users install: the same stdout or error, byte for byte, for
 * good and bad calls of our loopback (libcni's inProcessExec with the harness's OUR_PLUGINS entry).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultExec, inProcessExec, pluginEnv } from '@tscni/libcni';
import { cniOutcome as outcome } from '@tscni/testing/cni-outcome';
import { DIST_BIN } from '@tscni/testing/node';
import { OUR_PLUGINS } from '@tscni/in-process-plugins';

describe('inProcessExec against our loopback bundle', () => {
  const inproc = inProcessExec({ loopback: OUR_PLUGINS.loopback }, () => {
    throw new Error('must not exec');
  });
  const file = join(DIST_BIN, 'loopback');
  const cases: [string, NodeJS.ProcessEnv, string][] = [
    ['VERSION', pluginEnv('VERSION', { netNS: 'dummy', ifName: 'dummy' }, ['dummy'], {}), '{"cniVersion":"1.1.0"}'],
    [
      'missing env',
      { ...pluginEnv('ADD', { ifName: 'lo' }, [DIST_BIN], {}), CNI_CONTAINERID: '' },
      '{"cniVersion":"1.0.0","name":"lo","type":"loopback"}',
    ],
    [
      'bad JSON',
      pluginEnv('ADD', { containerID: 'c', netNS: '/run/netns/none', ifName: 'lo' }, [DIST_BIN], {}),
      '{"cniVersion":',
    ],
    [
      'bad version',
      pluginEnv('ADD', { containerID: 'c', netNS: '/run/netns/none', ifName: 'lo' }, [DIST_BIN], {}),
      '{"cniVersion":"9.9.9","name":"lo","type":"loopback"}',
    ],
    [
      'bad name',
      pluginEnv('DEL', { containerID: 'c', ifName: 'lo' }, [DIST_BIN], {}),
      '{"cniVersion":"1.0.0","name":"a/b","type":"loopback"}',
    ],
    ['unknown verb', { ...pluginEnv('ADD', {}, [DIST_BIN], {}), CNI_COMMAND: 'FROB' }, '{}'],
  ];
  it.each(cases)('%s: the same stdout or error as exec', async (_, env, stdin) => {
    const viaExec = await outcome(defaultExec(file, { env: { PATH: process.env.PATH, ...env }, stdin }));
    const viaCall = await outcome(inproc(file, { env, stdin }));
    expect(viaCall).toEqual(viaExec);
  });
});
