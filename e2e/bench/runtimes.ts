/**
 * The CRI row: `crictl runp` + `stopp` + `rmp` of one pod through the harness with our plugins against containerd 1.6
 * with the reference plugins, both driven by the real crictl (v1.26.1) over the same Kubernetes chain, both daemons
 * up at once and the pods interleaved so machine noise hits both. The harness is the suites' build (HARNESS_BIN in
 * @tscni/testing/harness-process: the Bun executable when TSCNI_CNI_BIN is dist/bun/cni-bin, or $TSCNI_HARNESS_BIN).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIST_BIN, REFERENCE_BIN, TestNode } from '@tscni/testing/node';
import { HARNESS_BIN, killPauses } from '@tscni/testing/harness-process';
import { Harness, type HarnessDirs } from '@tscni/testing/real-crictl';
import { CRICTL, startContainerd, type Containerd } from '@tscni/testing/interop/containerd';
import { RuntimeNode } from '@tscni/testing/interop/node';
import type { CniBench } from './cni';
import { now, type Row } from './stats';

function crictl(socket: string, args: string[]): string {
  const r = spawnSync(CRICTL, ['-r', `unix://${socket}`, '-t', '60s', ...args], { encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`crictl ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout.trim();
}

/** runp + stopp + rmp of one pod; ms. */
function cycle(socket: string, podFile: string): number {
  const t = now();
  const id = crictl(socket, ['runp', podFile]);
  crictl(socket, ['stopp', id]);
  crictl(socket, ['rmp', id]);
  return now() - t;
}

export async function timeRuntimes(bench: CniBench, row: Row, runs: number): Promise<void> {
  const hnode = new TestNode('bcri');
  let harness: Harness | undefined;
  let rnode: RuntimeNode | undefined;
  let containerd: Containerd | undefined;
  let dirs: HarnessDirs | undefined;
  try {
    const files = (d: string) => {
      mkdirSync(join(hnode.tmp, d), { recursive: true });
      return join(hnode.tmp, d);
    };
    const conflist = (plugins: Record<string, unknown>[]) => ({ cniVersion: '1.0.0', name: 'bench', plugins });
    const set = { tag: 'cri', dir: '', net: 95 };
    dirs = {
      socket: join(files('run'), 'cri.sock'),
      stateDir: files('state'),
      confDir: files('net.d'),
      cacheDir: files('cache'),
    };
    writeFileSync(
      join(dirs.confDir, '10-bench.conflist'),
      JSON.stringify(conflist(bench.chainPlugins(set, 'crib0', '10.95.0.0/16', hnode.tmp))),
    );
    // Which harness build (HARNESS_BIN: $TSCNI_HARNESS_BIN, else the one of the plugins' runtime) and plugins.
    console.log(`CRI row: ${HARNESS_BIN} with the plugins in ${DIST_BIN}`);
    harness = await Harness.start(hnode, dirs);
    rnode = await RuntimeNode.start('bcd');
    containerd = await startContainerd(
      rnode,
      REFERENCE_BIN,
      conflist(bench.chainPlugins(set, 'crib0', '10.95.0.0/16', rnode.tmp)),
    );
    const pod = (name: string) => {
      const file = join(hnode.tmp, `${name}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          metadata: { name, namespace: 'bench', uid: `${name}-uid`, attempt: 0 },
          hostname: name,
          log_directory: '/tmp',
          linux: {},
        }),
      );
      return file;
    };
    // One warm-up each (first image / state set-up), then interleaved.
    cycle(dirs.socket, pod('warm-h'));
    cycle(containerd.socket, pod('warm-c'));
    for (let i = 0; i < runs; i++) {
      row.values.ours.push(cycle(dirs.socket, pod(`h${i}`)));
      row.values.reference.push(cycle(containerd.socket, pod(`c${i}`)));
    }
  } finally {
    await harness?.stop().catch(() => {});
    if (dirs) killPauses(dirs.stateDir);
    await containerd?.stop().catch(() => {});
    await rnode?.destroy();
    hnode.destroy();
  }
}
