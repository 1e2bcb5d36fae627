import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { SluiceMetrics } from '../../../runtime/metrics/index.ts';
import { documentedMetrics } from '../../support/prometheus-text.ts';

interface Dashboard {
  title: string;
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
}

test('the Grafana dashboard in docs/grafana queries only metrics Sluice reports', async () => {
  const dashboard = JSON.parse(await readFile(new URL('../../../docs/grafana/sluice-dashboard.json', import.meta.url), 'utf8')) as Dashboard;
  const reported = new Set([...(await documentedMetrics()).map((m) => m.name), ...(await new SluiceMetrics().registry.getMetricsAsJSON()).map((m) => m.name)]);
  assert.ok(dashboard.panels.length > 0);
  for (const panel of dashboard.panels) {
    assert.ok(panel.targets.length > 0, `panel "${panel.title}" has a query`);
    for (const { expr } of panel.targets) {
      const names = [...expr.matchAll(/\bsluice_[a-z0-9_]+/g)].map(([name]) => name.replace(/_(bucket|sum|count)$/, ''));
      assert.ok(names.length > 0, `"${expr}" queries a sluice metric`);
      for (const name of names) assert.ok(reported.has(name), `panel "${panel.title}" queries ${name}, which Sluice does not report`);
    }
  }
});
