/**
 * podman 4.3 (Debian's) with its CNI backend, with our plugins and with Debian's reference plugins as its
 * cni_plugin_dirs: `podman network create` writes its own conflist (bridge + portmap + firewall with
 * "backend": "" + tuning), a container with a published port answers through it, and `podman rm` +
 * `podman network rm` leave nothing behind.
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
import { PLUGIN_SETS, missingForInterop, runtimeNodeSnapshot } from '@tscni/testing/interop/common';

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

for (const set of PLUGIN_SETS) {
  describe.skipIf(!!missing)(
    `podman 4.3 (CNI backend), cni_plugin_dirs = ${set.name}${missing ? ` — skipped: ${missing}` : ''}`,
    () => {
      let node: RuntimeNode;
      let podman: Podman;
      let outside: string;
      let before: NodeSnapshot;
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
        podman = setUpPodman(node, set.bin);
        before = runtimeNodeSnapshot(node.net, stateDirs());
      }, 240_000);

      afterAll(async () => {
        if (podman) {
          podman.run(['rm', '-f', '-a', '-t', '0'], { allowFail: true });
          podman.run(['network', 'rm', '-f', NET], { allowFail: true });
        }
        await node?.destroy();
      }, 180_000);

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

        const id = podman
          .run([
            'run',
            '-d',
            '--name',
            'web',
            '--network',
            NET,
            '--cgroup-parent',
            node.cgroupParent,
            '-p',
            '18090:8080',
            BUSYBOX_IMAGE,
            '/bin/httpd',
            '-f',
            '-p',
            '8080',
            '-h',
            '/www',
          ])
          .stdout.trim();
        const inspect = JSON.parse(podman.run(['inspect', id]).stdout)[0];
        const ip = inspect.NetworkSettings.Networks[NET].IPAddress as string;
        const netns = node.viewOf(inspect.NetworkSettings.SandboxKey as string);
        containers.push({ id, ip, netns });

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
    },
  );
}
