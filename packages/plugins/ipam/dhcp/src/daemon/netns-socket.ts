import { spawn } from 'node:child_process';
import type { Socket } from 'node:dgram';

/**
 * Node cannot enter a network namespace, but a socket keeps the namespace it was created in. So a
 * short-lived helper (`nsenter --net=<netns> node -e …`, or bun's `-e`) creates the DHCP client socket inside the pod's
 * namespace — UDP, 0.0.0.0:68, SO_REUSEADDR, SO_BROADCAST — hands it to the daemon over the IPC channel
 * (SCM_RIGHTS) and exits once the daemon has it (the daemon disconnects). The daemon then holds one file
 * descriptor per lease, not one process.
 */
function helper(): void {
  const dgram = require('node:dgram') as typeof import('node:dgram');
  const send = process.send!.bind(process);
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  process.on('disconnect', () => process.exit(0));
  s.on('error', (e) => send({ error: e.message }, undefined, undefined, () => process.exit(1)));
  s.bind(68, '0.0.0.0', () => {
    s.setBroadcast(true);
    send({ ok: true }, s as never);
  });
}

/**
 * How to start the helper: the runtime's own `-e` with its source. A compiled Bun executable runs its embedded
 * entry whatever its arguments, but acts as the `bun` CLI (with `-e`) when BUN_BE_BUN=1 is in its environment.
 */
function helperCommand(): { argv: string[]; env: Record<string, string> } {
  const script = ['-e', `(${helper.toString()})()`];
  return { argv: [process.execPath, ...script], env: process.versions.bun ? { BUN_BE_BUN: '1' } : {} };
}

export function clientSocketIn(netns: string, timeoutMs = 10_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const { argv, env } = helperCommand();
    const child = spawn('nsenter', [`--net=${netns}`, '--', ...argv], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
    });
    let stderr = '';
    let settled = false;
    let received: Socket | undefined;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        received?.close();
        reject(err);
      } else resolve(received!);
    };
    const timer = setTimeout(() => done(new Error(`opening a DHCP socket in ${netns}: timed out`)), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    child.on('error', (e) => done(new Error(`opening a DHCP socket in ${netns}: ${e.message}`)));
    child.on('message', (msg: { ok?: boolean; error?: string }, handle?: unknown) => {
      if (msg?.ok && handle) {
        received = handle as Socket;
        received.setBroadcast(true);
        if (child.exitCode !== null || child.signalCode !== null) done();
        else if (child.connected) child.disconnect();
      } else done(new Error(`opening a DHCP socket in ${netns}: ${msg?.error ?? 'no socket'}`));
    });
    // The socket is the daemon's once the helper has exited: until then the helper's runtime may still read it (a
    // Bun helper does), and a reply it reads is lost to the daemon — the first renewal of a restored lease went
    // unanswered that way. ('close' does not come under Node while the daemon holds the handle.)
    child.on('exit', () => {
      if (received) done();
    });
    // 'close' comes after every message of the channel was delivered ('exit' may come before).
    child.on('close', (code) => {
      if (received) done();
      else
        done(
          new Error(
            `opening a DHCP socket in ${netns}: ${stderr.trim().split('\n').pop() || `helper exited with ${code}`}`,
          ),
        );
    });
  });
}
