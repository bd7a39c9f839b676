import type { Metric, MetricValueWithName } from 'prom-client';

type RequestLabels = { method: string; route: string; status: string };

/** One (method, route, status): its request count and its latency histogram. */
interface Series {
  labels: RequestLabels;
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative); the last one is above every bound. */
  buckets: number[];
}

/**
 * The per-request metrics, kept as plain numbers per series and turned into Prometheus
 * series at scrape time. prom-client's `inc(labels)` and `observe(labels)` take a label object
 * and hash it on every call; here a request finds its series through three Map lookups on the
 * values it already has and allocates nothing once the series exists.
 */
export class RequestSeries {
  private readonly byRoute = new Map<string, Map<string, Map<number, Series>>>();
  private readonly all: Series[] = [];

  constructor(readonly bounds: readonly number[]) {}

  observe(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.byRoute.get(route);
    if (!byMethod) this.byRoute.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) {
      series = { labels: { method, route, status: String(status) }, count: 0, sum: 0, buckets: [] };
      series.buckets = new Array<number>(this.bounds.length + 1).fill(0);
      byStatus.set(status, series);
      this.all.push(series);
    }
    series.count++;
    series.sum += seconds;
    let bucket = 0;
    while (bucket < this.bounds.length && seconds > this.bounds[bucket]) bucket++;
    series.buckets[bucket]++;
  }

  counts(): { labels: RequestLabels; count: number }[] {
    return this.all;
  }

  /**
   * A histogram for a prom-client registry (`registerMetric`), in the shape prom-client's own
   * Histogram gives, so the exposition is the same: cumulative `_bucket` series with `le`,
   * then `+Inf`, `_sum` and `_count`.
   */
  histogram(name: string, help: string): Metric {
    const get = () => {
      const values: MetricValueWithName<string>[] = [];
      for (const series of this.all) {
        const shared = { sharedLabels: series.labels } as object;
        let cumulative = 0;
        this.bounds.forEach((le, i) => {
          cumulative += series.buckets[i];
          values.push({ labels: { le }, value: cumulative, metricName: `${name}_bucket`, ...shared });
        });
        values.push({ labels: { le: '+Inf' }, value: series.count, metricName: `${name}_bucket`, ...shared });
        values.push({ labels: {}, value: series.sum, metricName: `${name}_sum`, ...shared });
        values.push({ labels: {}, value: series.count, metricName: `${name}_count`, ...shared });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    };
    return { name, help, type: 'histogram', aggregator: 'sum', get } as unknown as Metric;
  }
}
