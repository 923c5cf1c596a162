import { CniError } from '@tscni/cni';
import { pluginDescription } from './request';
import type { PluginConfig } from './types';

export type ChainOp = 'add' | 'delete' | 'check' | 'gc' | 'status';

/**
 * A plugin of a list failed: `plugin type="X" name="N" failed (add): <plugin's msg>`. Keeps the plugin's
 * CNI error code (so STATUS 50/51 and "try again" 11 survive) and its stderr.
 */
export class PluginFailure extends CniError {
  readonly pluginType: string;
  readonly stderr: string;

  constructor(
    readonly op: ChainOp,
    plugin: PluginConfig,
    listName: string,
    override readonly cause: CniError,
  ) {
    super(cause.code, `plugin ${pluginDescription(plugin, listName)} failed (${op}): ${cause.msg}`, cause.details);
    this.name = 'PluginFailure';
    this.pluginType = plugin.network.type;
    this.stderr = String((cause as { stderr?: unknown }).stderr ?? '');
  }
}

/** Several independent failures (GC keeps going and reports them all). */
export class JoinedError extends CniError {
  constructor(readonly errors: CniError[]) {
    super(errors[0]?.code ?? 0, errors.map((e) => e.message).join('; '));
    this.name = 'JoinedError';
  }
}
