/** The agent's /metrics endpoint: every metric on the agent's own registry, in Prometheus' text format. */
import { afterAll, describe, expect, it } from 'vitest';
import { register } from 'prom-client';
import { Metrics } from '../src/metrics';

describe('the /metrics endpoint', () => {
  const metrics = new Metrics();
  afterAll(() => metrics.close());

  it('serves every metric with its type and help (and nothing on prom-client’s global registry); other paths are 404', async () => {
    const addr = await metrics.listen('127.0.0.1:0');
    metrics.etcdErrors.inc({ op: 'list' });
    metrics.leases.set(3);
    metrics.programming.observe(0.02);
    const res = await fetch(`http://${addr}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(types).toEqual([
      'tscni_agent_leases gauge',
      'tscni_agent_peers gauge',
      'tscni_agent_refused_peers gauge',
      'tscni_agent_watch_reconnects_total counter',
      'tscni_agent_etcd_errors_total counter',
      'tscni_agent_lease_renewals_total counter',
      'tscni_agent_lease_acquisitions_total counter',
      'tscni_agent_programming_seconds histogram',
    ]);
    expect(text).toContain('# HELP tscni_agent_etcd_errors_total Failed etcd operations (retried with backoff)');
    expect(text).toContain('tscni_agent_etcd_errors_total{op="list"} 1');
    expect(text).toContain('tscni_agent_leases 3');
    expect(text).toContain('tscni_agent_programming_seconds_bucket{le="0.025"} 1');
    expect(await register.metrics()).not.toContain('tscni_agent');
    expect((await fetch(`http://${addr}/other`)).status).toBe(404);
  });
});
