/**
 * tscni-agent (dist/bin/tscni-agent) run inside a node's namespace, as flanneld runs on a node: its JSON
 * log lines collected, waited on, stopped cleanly (SIGTERM) or killed. `setpriv --pdeathsig SIGKILL`
 * ties it to the test runner.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { TestNode } from '@tscni/testing/node';

export const AGENT_BIN = join(import.meta.dirname, '../../dist/bin/tscni-agent');

export interface AgentLog {
  msg: string;
  level: string;
  [k: string]: unknown;
}

export class AgentProcess {
  readonly logs: AgentLog[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(
    readonly node: TestNode,
    readonly args: string[],
  ) {
    this.child = spawn(
      'nsenter',
      [`--net=${node.path}`, '--', 'setpriv', '--pdeathsig', 'SIGKILL', '--', process.execPath, AGENT_BIN, ...args],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
    let partial = '';
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-50_000);
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        try {
          if (line.trim()) this.logs.push(JSON.parse(line));
        } catch {
          this.logs.push({ msg: line, level: 'raw' });
        }
      }
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Wait for a log line with this `msg` (counting from entry `from`). */
  async waitFor(msg: string, timeoutMs = 30_000, from = 0): Promise<AgentLog> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.slice(from).find((l) => l.msg === msg);
      if (hit) return hit;
      if (!this.running) throw new Error(`tscni-agent exited before "${msg}":\n${this.stderr.slice(-4000)}`);
      if (Date.now() > deadline)
        throw new Error(`tscni-agent: no "${msg}" within ${timeoutMs} ms:\n${this.stderr.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGTERM and wait for the exit code. */
  async stop(): Promise<number | null> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** SIGKILL (a crash): nothing is cleaned up. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }
}
