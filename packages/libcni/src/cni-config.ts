import {
  CniError,
  ErrorCode,
  VALID_ATTACHMENTS_KEY,
  findInPath,
  validateContainerID,
  validateInterfaceName,
  validateNetworkName,
  versionAtLeast,
} from '@tscni/cni';
import { DEFAULT_CACHE_DIR, ResultCache } from './cache';
import { confListFromBytes, injectConf, singleNetworkList } from './conf';
import { JoinedError, PluginFailure, type ChainOp } from './errors';
import { defaultExec, pluginEnv, probeVersions, type PluginExec, type Verb } from './exec';
import { inProcessExec, type InProcessPlugins } from './in-process';
import { buildPluginConfig } from './request';
import { resultFromPlugin, resultInVersion } from './result';
import type { GCArgs, NetworkAttachment, NetworkConfigList, PluginConfig, ResultJSON, RuntimeConf } from './types';
import { findProblems } from './validate';

export interface CNIConfigOptions {
  /** Directories searched for plugin binaries, in order (also handed to plugins as CNI_PATH). */
  binDirs: string[];
  /** Root of the result cache; default /var/lib/cni (libcni's). */
  cacheDir?: string;
  /** Kill a plugin that runs longer than this. */
  execTimeoutMs?: number;
  /** How plugins are run; e.g. `execInNetns(path)` to run them inside another namespace. */
  exec?: PluginExec;
  /**
   * Call these plugins in this process when CNI_PATH resolves to our build of them (see `inProcessExec`),
   * everything else through `exec`. Off unless given.
   */
  inProcess?: InProcessPlugins;
  /** Where plugin stderr goes (libcni forwards it to its own stderr, which is the default). */
  onStderr?: (text: string, plugin: { type: string; verb: Verb }) => void;
}

const ATTACHMENTS_KEY = 'cni.dev/attachments';

/** The runtime side of CNI for network lists (libcni `CNIConfig`). */
export class CNIConfig {
  readonly binDirs: string[];
  private readonly cacheDir: string | undefined;
  private readonly exec: PluginExec;

  constructor(private readonly opts: CNIConfigOptions) {
    this.binDirs = [...opts.binDirs];
    this.cacheDir = opts.cacheDir;
    this.exec = opts.inProcess ? inProcessExec(opts.inProcess, opts.exec ?? defaultExec) : (opts.exec ?? defaultExec);
  }

  /** ADD every plugin in order, each getting the previous result; stop at the first error; cache the final result. */
  async addNetworkList(list: NetworkConfigList, rt: RuntimeConf, signal?: AbortSignal): Promise<ResultJSON> {
    validateContainerID(rt.containerID);
    validateNetworkName(list.name);
    validateInterfaceName(rt.ifName);
    if (list.plugins.length === 0)
      throw new CniError(ErrorCode.InvalidNetworkConfig, `network "${list.name}" has no plugins`);
    let result: ResultJSON | undefined;
    for (const plugin of list.plugins) {
      const conf = buildPluginConfig(list.name, list.cniVersion, plugin, result, rt);
      const stdout = await this.invoke('ADD', 'add', list, plugin, conf, rt, signal);
      try {
        result = resultFromPlugin(stdout, list.cniVersion);
      } catch (e) {
        throw new PluginFailure('add', plugin, list.name, CniError.from(e));
      }
    }
    try {
      await this.cache(rt).write(result!, list.bytes, list.name, rt);
    } catch (e) {
      throw new CniError(
        ErrorCode.IOFailure,
        `failed to set network "${list.name}" cached result: ${(e as Error).message}`,
      );
    }
    return result!;
  }

  /** CHECK every plugin in order with the cached result; a no-op when the list sets `disableCheck`. */
  async checkNetworkList(list: NetworkConfigList, rt: RuntimeConf, signal?: AbortSignal): Promise<void> {
    if (!versionAtLeast(list.cniVersion, '0.4.0')) {
      throw new CniError(
        ErrorCode.IncompatibleCNIVersion,
        `configuration version "${list.cniVersion}" does not support the CHECK command`,
      );
    }
    if (list.disableCheck) return;
    let cached: ResultJSON | undefined;
    try {
      cached = this.getNetworkListCachedResultSync(list, rt);
    } catch (e) {
      throw new CniError(
        CniError.from(e).code,
        `failed to get network "${list.name}" cached result: ${(e as Error).message}`,
      );
    }
    for (const plugin of list.plugins) {
      await this.invoke(
        'CHECK',
        'check',
        list,
        plugin,
        buildPluginConfig(list.name, list.cniVersion, plugin, cached, rt),
        rt,
        signal,
      );
    }
  }

  /** DEL every plugin in reverse with the cached result (≥0.4.0); a corrupt cache entry is dropped, not fatal. */
  async delNetworkList(list: NetworkConfigList, rt: RuntimeConf, signal?: AbortSignal): Promise<void> {
    const cache = this.cache(rt);
    let cached: ResultJSON | undefined;
    if (versionAtLeast(list.cniVersion, '0.4.0')) {
      try {
        cached = this.getNetworkListCachedResultSync(list, rt);
      } catch {
        cache.delete(list.name, rt);
      }
    }
    for (const plugin of [...list.plugins].reverse()) {
      await this.invoke(
        'DEL',
        'delete',
        list,
        plugin,
        buildPluginConfig(list.name, list.cniVersion, plugin, cached, rt),
        rt,
        signal,
      );
    }
    cache.delete(list.name, rt);
  }

  /**
   * GC (libcni `GCNetworkList`): DEL every cached attachment of this network that is not in
   * `validAttachments`, then (≥1.1.0) send GC to every plugin with both attachment keys. Keeps going on
   * errors and reports them together. A no-op when the list sets `disableGC`.
   */
  async gcNetworkList(list: NetworkConfigList, args: GCArgs, signal?: AbortSignal): Promise<void> {
    if (list.disableGC) return;
    const valid = new Set(args.validAttachments.map((a) => `${a.containerID}\0${a.ifname}`));
    const errors: CniError[] = [];
    for (const att of this.getCachedAttachmentsSync()) {
      if (att.network !== list.name || valid.has(`${att.containerID}\0${att.ifName}`)) continue;
      const rt: RuntimeConf = {
        containerID: att.containerID,
        netNS: att.netNS ?? '',
        ifName: att.ifName,
        args: att.cniArgs,
        capabilityArgs: att.capabilityArgs,
      };
      try {
        await this.delNetworkList(this.cachedListOr(att, list), rt, signal);
      } catch (e) {
        errors.push(
          new CniError(
            CniError.from(e).code,
            `failed to delete stale attachment ${att.containerID} ${att.ifName}: ${(e as Error).message}`,
          ),
        );
      }
    }
    if (versionAtLeast(list.cniVersion, '1.1.0')) {
      const attachments = args.validAttachments.map((a) => ({ containerID: a.containerID, ifname: a.ifname }));
      const inject = {
        name: list.name,
        cniVersion: list.cniVersion,
        [VALID_ATTACHMENTS_KEY]: attachments,
        [ATTACHMENTS_KEY]: attachments,
      };
      for (const plugin of list.plugins) {
        try {
          await this.invoke('GC', 'gc', list, plugin, injectConf(plugin, inject), {}, signal);
        } catch (e) {
          errors.push(CniError.from(e));
        }
      }
    }
    if (errors.length) throw new JoinedError(errors);
  }

  /** STATUS of every plugin (≥1.1.0; older lists are assumed ready); the first failure is the answer. */
  async getStatusNetworkList(list: NetworkConfigList, signal?: AbortSignal): Promise<void> {
    if (!versionAtLeast(list.cniVersion, '1.1.0')) return;
    for (const plugin of list.plugins) {
      await this.invoke(
        'STATUS',
        'status',
        list,
        plugin,
        injectConf(plugin, { name: list.name, cniVersion: list.cniVersion }),
        {},
        signal,
      );
    }
  }

  /** Every plugin exists and speaks the list's version; returns the union of enabled capabilities. */
  async validateNetworkList(list: NetworkConfigList, signal?: AbortSignal): Promise<string[]> {
    const { problems, capabilities } = await this.findProblems(list, signal);
    if (problems.length) throw new CniError(ErrorCode.InvalidNetworkConfig, problems.join('; '));
    return capabilities;
  }

  /** What validateNetworkList checks, as a list of problems (one line each) instead of an error. */
  findProblems(list: NetworkConfigList, signal?: AbortSignal): Promise<{ problems: string[]; capabilities: string[] }> {
    return findProblems(list, (type) => this.getVersionInfo(type, signal), this.binDirs);
  }

  /** The deprecated single-plugin verbs (libcni `AddNetwork`, …): the list verbs on a one-plugin list. */
  addNetwork(net: PluginConfig, rt: RuntimeConf, signal?: AbortSignal): Promise<ResultJSON> {
    return this.addNetworkList(singleNetworkList(net), rt, signal);
  }

  checkNetwork(net: PluginConfig, rt: RuntimeConf, signal?: AbortSignal): Promise<void> {
    return this.checkNetworkList(singleNetworkList(net), rt, signal);
  }

  delNetwork(net: PluginConfig, rt: RuntimeConf, signal?: AbortSignal): Promise<void> {
    return this.delNetworkList(singleNetworkList(net), rt, signal);
  }

  validateNetwork(net: PluginConfig, signal?: AbortSignal): Promise<string[]> {
    return this.validateNetworkList(singleNetworkList(net), signal);
  }

  getNetworkCachedResult(net: PluginConfig, rt: RuntimeConf): Promise<ResultJSON | undefined> {
    return this.getNetworkListCachedResult(singleNetworkList(net), rt);
  }

  /** The versions a plugin type supports (the VERSION probe). */
  getVersionInfo(type: string, signal?: AbortSignal): Promise<string[]> {
    return probeVersions(findInPath(type, this.binDirs), this.exec, signal, this.opts.execTimeoutMs);
  }

  /** The cached final ADD result in the list's version; undefined when nothing is cached; throws when corrupt. */
  async getNetworkListCachedResult(list: NetworkConfigList, rt: RuntimeConf): Promise<ResultJSON | undefined> {
    return this.getNetworkListCachedResultSync(list, rt);
  }

  /** The list bytes and runtime arguments the attachment was added with (libcni `GetNetworkListCachedConfig`). */
  async getNetworkListCachedConfig(
    list: NetworkConfigList,
    rt: RuntimeConf,
  ): Promise<{ config: Buffer; rt: RuntimeConf } | undefined> {
    const entry = this.cache(rt).read(list.name, rt);
    if (!entry?.info) return undefined;
    const info = entry.info;
    return {
      config: Buffer.from(info.config ?? '', 'base64'),
      rt: { ...rt, ...(info.cniArgs ? { args: info.cniArgs } : {}), capabilityArgs: info.capabilityArgs },
    };
  }

  /** Cached attachments of every network, or of one container. */
  async getCachedAttachments(containerID = ''): Promise<NetworkAttachment[]> {
    return this.getCachedAttachmentsSync(containerID);
  }

  private getCachedAttachmentsSync(containerID = ''): NetworkAttachment[] {
    return this.cache({}).attachments(containerID);
  }

  private getNetworkListCachedResultSync(list: NetworkConfigList, rt: RuntimeConf): ResultJSON | undefined {
    const entry = this.cache(rt).read(list.name, rt);
    if (!entry) return undefined;
    const raw = entry.info ? entry.info.result : entry.legacyResult;
    if (!raw) throw new CniError(ErrorCode.DecodingFailure, `cached network "${list.name}" has no result`);
    return resultInVersion(raw, list.cniVersion);
  }

  /** The list an attachment was added with, when its cached bytes still parse as this network; else `list`. */
  private cachedListOr(att: NetworkAttachment, list: NetworkConfigList): NetworkConfigList {
    try {
      const cached = confListFromBytes(att.config);
      if (cached.name === list.name && cached.plugins.length) return cached;
    } catch {
      /* fall back to the current config */
    }
    return list;
  }

  private cache(rt: Partial<RuntimeConf>): ResultCache {
    return new ResultCache(this.cacheDir || rt.cacheDir || DEFAULT_CACHE_DIR);
  }

  /** Exec one plugin for one verb; any failure comes back as a PluginFailure naming the plugin. */
  private async invoke(
    verb: Verb,
    op: ChainOp,
    list: NetworkConfigList,
    plugin: PluginConfig,
    conf: PluginConfig,
    rt: Partial<RuntimeConf>,
    signal?: AbortSignal,
  ): Promise<string> {
    try {
      const file = findInPath(plugin.network.type, this.binDirs);
      const env = pluginEnv(verb, rt, this.binDirs);
      const { stdout, stderr } = await this.exec(file, {
        env,
        stdin: conf.bytes.toString(),
        timeoutMs: this.opts.execTimeoutMs,
        signal,
      });
      if (stderr) this.reportStderr(stderr, plugin.network.type, verb);
      return stdout;
    } catch (e) {
      const err = CniError.from(e);
      const stderr = (e as { stderr?: unknown }).stderr;
      if (typeof stderr === 'string' && stderr) this.reportStderr(stderr, plugin.network.type, verb);
      throw new PluginFailure(op, plugin, list.name, Object.assign(err, { stderr }));
    }
  }

  private reportStderr(text: string, type: string, verb: Verb): void {
    if (this.opts.onStderr) this.opts.onStderr(text, { type, verb });
    else process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }
}
