import { rmSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { deleteLinksOutOfProcess } from '@tscni/net/host/ip-in-process';
import { PodNetworks } from './cni';
import type { HarnessFlags } from './flags';
import { holdInstanceLock } from './instance-lock';
import { log } from './log';
import { imageServiceHandlers } from './image-service';
import { loadImageService, loadRuntimeService } from './proto';
import { runtimeServiceHandlers } from './runtime-service';
import { SandboxManager } from './sandbox-manager';
import { PodPublisher } from './pod-publisher';
import { SandboxStore } from './sandbox-store';
import { listenUnix, replaceStaleSocket } from './socket';

export interface RunningHarness {
  /** Stop serving, remove the socket and release the locks; pods keep running (as with containerd). */
  close(): Promise<void>;
}

/** Lock, recover the pods of the state dir, then serve runtime.v1.RuntimeService and ImageService on the socket. */
export async function startHarness(flags: HarnessFlags): Promise<RunningHarness> {
  // Our plugins run in this process, many pods at once: no kernel request that holds the thread for long.
  deleteLinksOutOfProcess();
  const service = loadRuntimeService();
  const imageService = loadImageService();
  const releaseSocket = await holdInstanceLock(`${flags.socket}.lock`, flags.socket);
  let releaseState: (() => void) | undefined;
  try {
    releaseState = await holdInstanceLock(join(flags.stateDir, 'lock'), `state dir ${flags.stateDir}`);
    await replaceStaleSocket(flags.socket);
    const networks = new PodNetworks(
      {
        confDir: flags.cniConfDir,
        binDirs: flags.cniBinDirs,
        cacheDir: flags.cniCacheDir,
        stateDir: flags.stateDir,
        defaultNetwork: flags.defaultNetwork,
        inProcess: flags.cniInProcess,
      },
      (text, plugin) =>
        log('warn', 'plugin stderr', { plugin: plugin.type, verb: plugin.verb, stderr: text.trim().slice(0, 2000) }),
    );
    const etcd = {
      endpoints: flags.etcdEndpoints,
      cafile: flags.etcdCafile,
      certfile: flags.etcdCertfile,
      keyfile: flags.etcdKeyfile,
    };
    const publisher = flags.etcdEndpoints.length
      ? new PodPublisher(etcd, flags.policyPrefix, flags.nodeName)
      : undefined;
    const manager = new SandboxManager(new SandboxStore(flags.stateDir), networks, flags.stateDir, publisher);
    await manager.recover();
    const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
    server.addService(service, runtimeServiceHandlers(manager, flags));
    server.addService(imageService, imageServiceHandlers(flags.stateDir));
    const listener = await listenUnix(server, flags.socket);
    log('info', 'Serving', { socket: flags.socket, pid: process.pid });
    void publisher?.probe();
    const releaseLocks = [releaseState, releaseSocket];
    return {
      close: async () => {
        await listener.close();
        await publisher?.close();
        rmSync(flags.socket, { force: true });
        for (const release of releaseLocks) release();
      },
    };
  } catch (e) {
    releaseState?.();
    releaseSocket();
    throw e;
  }
}
