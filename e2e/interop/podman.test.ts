/**
 * podman 4.3 (Debian's) with its CNI backend, with our plugins, with Debian's reference plugins and with resident
 * mode's shims (tscni-plugind in the node) as its cni_plugin_dirs: `podman network create` writes its own conflist
 * (bridge + portmap + firewall with "backend": "" + tuning), a container with a published port answers through it,
 * one that exits by itself is torn down by podman's cleanup process, and `podman rm` + `podman network rm` leave
 * nothing behind.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOutside, pings } from '@tscni/testing/node';
import { expectNodeAsItWas, type NodeSnapshot } from '@tscni/testing/node-state';
import { MARKER } from '@tscni/testing/interop/busybox-image';
import { BUSYBOX_IMAGE, setUpPodman, type Podman } from '@tscni/testing/interop/podman';
import { RuntimeNode } from '@tscni/testing/interop/node';
import { PLUGIN_SETS, RESIDENT_SET, missingForInterop, runtimeNodeSnapshot } from '@tscni/testing/interop/common';
import { expectPlugindRan, plugindCalls, startNodePlugind } from '@tscni/testing/interop/resident';
import type { PlugindProcess } from '@tscni/testing/plugind';

const NET = 'interop';
const SUBNET = '10.78.0';
const NODE_IP = '198.51.100.1';

const GET = `
const req = require('node:http').get(process.argv[1], { timeout: 5000 }, (res) => {
  let body = '';
  res.on('data', (d) => (body += d));
  res.on('end', () => { process.stdout.write(body); process.exit(res.statusCode === 200 ? 0 : 4); });
});
req.on('timeout', () => { process.stderr.write('timeout'); process.exit(2); });
req.on('error', (e) => { process.stderr.write(e.code || e.message); process.exit(3); });
`;

/** An HTTP GET from a namespace; the body, or `error: …`. Retried while the server starts. */
async function httpGet(netns: string, url: string): Promise<string> {
  for (let i = 0; ; i++) {
    const r = spawnSync('nsenter', [`--net=${netns}`, '--', process.execPath, '-e', GET, url], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    if (r.status === 0) return r.stdout.trim();
    if (i >= 20) return `error: ${(r.stderr || String(r.error ?? r.signal ?? r.status)).trim()}`;
    await new Promise((res) => setTimeout(res, 500));
  }
}

const missing = missingForInterop(['podman', 'conmon', 'runc', 'busybox']);

// Resident mode too (docs/resident.md, "Runtimes"): tscni-plugind in the node's network and mount namespaces, which
// are podman's (it runs its plugins itself), found through TSCNI_PLUGIND_SOCKET, which podman passes on to them (and
// conmon, given it in containers.conf's conmon_env_vars, to podman's cleanup process).
const SETS = [...PLUGIN_SETS, RESIDENT_SET];

for (const set of SETS) {
  describe.skipIf(!!missing)(
    `podman 4.3 (CNI backend), cni_plugin_dirs = ${set.name}${missing ? ` — skipped: ${missing}` : ''}`,
    () => {
      let node: RuntimeNode;
      let podman: Podman;
      let outside: string;
      let before: NodeSnapshot;
      let plugind: PlugindProcess | undefined;
      const containers: { id: string; ip: string; netns: string }[] = [];
      const stateDirs = () => [
        join(node.varLib, 'cni'),
        node.run,
        podman.configDir,
        join(node.tmp, 'podman/runroot'),
        join(node.tmp, 'podman/tmp'),
      ];

      beforeAll(async () => {
        node = await RuntimeNode.start('pm');
        outside = addOutside(node.net);
        let env: NodeJS.ProcessEnv = {};
        if (set.resident) ({ daemon: plugind, env } = await startNodePlugind(node, set.bin, env));
        podman = setUpPodman(node, set.bin, env);
        before = runtimeNodeSnapshot(node.net, stateDirs());
      }, 240_000);

      afterAll(async () => {
        if (podman) {
          podman.run(['rm', '-f', '-a', '-t', '0'], { allowFail: true });
          podman.run(['network', 'rm', '-f', NET], { allowFail: true });
        }
        await plugind?.stop();
        await node?.destroy();
      }, 180_000);

      /** `podman run -d` on the network; the container's address and its netns as the node sees it. */
      const runContainer = (name: string, options: string[], command: string[]) => {
        const id = podman
          .run([
            'run',
            '-d',
            '--name',
            name,
            '--network',
            NET,
            '--cgroup-parent',
            node.cgroupParent,
            ...options,
            BUSYBOX_IMAGE,
            ...command,
          ])
          .stdout.trim();
        const inspect = JSON.parse(podman.run(['inspect', id]).stdout)[0];
        const ip = inspect.NetworkSettings.Networks[NET].IPAddress as string;
        const netns = node.viewOf(inspect.NetworkSettings.SandboxKey as string);
        containers.push({ id, ip, netns });
        return { id, ip, netns };
      };

      it('network create writes its conflist; a container with a published port runs, gets an address and answers on it', async () => {
        podman.run(['network', 'create', '--subnet', `${SUBNET}.0/24`, NET]);
        const conflist = JSON.parse(readFileSync(join(podman.configDir, `${NET}.conflist`), 'utf8'));
        expect(conflist.plugins.map((p: { type: string }) => p.type)).toEqual([
          'bridge',
          'portmap',
          'firewall',
          'tuning',
        ]);
        expect(conflist.plugins[2].backend, 'podman writes an empty firewall backend').toBe('');

        const { id, ip, netns } = runContainer(
          'web',
          ['-p', '18090:8080'],
          ['/bin/httpd', '-f', '-p', '8080', '-h', '/www'],
        );

        expect(ip).toMatch(new RegExp(`^${SUBNET.replace(/\./g, '\\.')}\\.\\d+$`));
        // What podman and the plugins write to the system defaults lands in the node's private dirs.
        expect(existsSync(join(node.varLib, 'cni/networks', NET, ip)), 'host-local lease in the node').toBe(true);
        expect(existsSync(join(node.varLib, `cni/results/${NET}-${id}-eth0`)), 'libcni result cache in the node').toBe(
          true,
        );
        expect(existsSync(netns), 'pinned container netns').toBe(true);
        expect(pings(netns, `${SUBNET}.1`), 'container → gateway').toBe(true);
        expect(await httpGet(outside, `http://${NODE_IP}:18090/`), 'published port from outside the node').toBe(MARKER);
        expect(await httpGet(node.net.path, `http://${NODE_IP}:18090/`), 'published port from the node').toBe(MARKER);
        expect(await httpGet(node.net.path, `http://${ip}:8080/`), 'container address from the node').toBe(MARKER);
      });

      it("a container that exits by itself is torn down by podman's cleanup process (conmon's exit command)", async () => {
        // Long enough for the inspect in runContainer on a busy machine.
        const { id, ip, netns } = runContainer('brief', [], ['/bin/sleep', '4']);
        const lease = join(node.varLib, 'cni/networks', NET, ip);
        expect(existsSync(lease), 'host-local lease in the node').toBe(true);
        // No podman command of ours runs its DEL: `podman container cleanup` does, which conmon starts when the
        // container exits, with conmon's environment (not podman run's: setUpPodman).
        for (let i = 0; i < 300 && (existsSync(lease) || existsSync(netns)); i++)
          await new Promise((r) => setTimeout(r, 100));
        expect(existsSync(lease), 'lease released').toBe(false);
        expect(existsSync(netns), 'netns unpinned').toBe(false);
        expect(JSON.parse(podman.run(['inspect', id]).stdout)[0].State.Status).toBe('exited');
      });

      it('podman rm -f and podman network rm leave no netns, veth, lease, rule or file', () => {
        podman.run(['rm', '-f', '-a', '-t', '0']);
        expect(podman.run(['ps', '-a', '-q']).stdout.trim()).toBe('');
        podman.run(['network', 'rm', NET]);
        expect(
          readdirSync(podman.configDir).filter((f) => f !== 'cni.lock'),
          'network configs',
        ).toEqual([]);
        const after = runtimeNodeSnapshot(node.net, stateDirs());
        expectNodeAsItWas(before, after, {
          ids: containers.map((c) => c.id),
          ips: containers.map((c) => c.ip),
          netns: containers.map((c) => c.netns),
        });
      });

      it.runIf(!!set.resident)(
        "tscni-plugind ran each container's bridge, portmap and tuning ADD and DEL (the exited one's DEL from podman's cleanup process) and their VERSION probes, nothing else (firewall is not one it runs)",
        async () => {
          const served = ['bridge', 'portmap', 'tuning'];
          const wanted = containers.flatMap((c) =>
            ['ADD', 'DEL'].flatMap((verb) => served.map((plugin) => `${verb} ${plugin} ${c.id}/eth0: exit 0`)),
          );
          const calls = await expectPlugindRan(plugind!, wanted);
          // Each ADD once; a DEL podman repeated (DEL is idempotent) would be no fault of ours.
          const [version, others] = [
            calls.filter((c) => c.startsWith('VERSION ')),
            calls.filter((c) => !c.startsWith('VERSION ')),
          ];
          expect(others.filter((c) => c.startsWith('ADD ')).sort()).toEqual(
            wanted.filter((c) => c.startsWith('ADD ')).sort(),
          );
          expect([...new Set(others)].sort()).toEqual([...wanted].sort());
          // Every podman command that loads the conflist validates it (libcni's ValidateNetworkList): a VERSION call
          // per plugin, with libcni's placeholder arguments (an empty container id, ifname "dummy").
          expect([...new Set(version)].sort()).toEqual(served.map((p) => `VERSION ${p} /dummy: exit 0`));
        },
      );
    },
  );
}
