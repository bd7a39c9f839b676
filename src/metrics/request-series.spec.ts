import { Registry } from 'prom-client';
import { RequestSeries } from './request-series';

describe('RequestSeries', () => {
  it('exposes counts and cumulative latency buckets per method, route and status', async () => {
    const series = new RequestSeries([0.01, 0.1]);
    series.observe('GET', '/health', 200, 0.005);
    series.observe('GET', '/health', 200, 0.05);
    series.observe('GET', '/health', 200, 3);
    series.observe('POST', '/health', 200, 0.001);
    series.observe('GET', '/health', 404, 0.02);
    const registry = new Registry();
    registry.registerMetric(series.histogram('t_seconds', 'latency'));
    const text = await registry.metrics();
    expect(text).toContain('# TYPE t_seconds histogram');
    expect(text).toContain('t_seconds_bucket{le="0.01",method="GET",route="/health",status="200"} 1');
    expect(text).toContain('t_seconds_bucket{le="0.1",method="GET",route="/health",status="200"} 2');
    expect(text).toContain('t_seconds_bucket{le="+Inf",method="GET",route="/health",status="200"} 3');
    expect(text).toContain('t_seconds_count{method="GET",route="/health",status="200"} 3');
    expect(text).toContain('t_seconds_sum{method="GET",route="/health",status="200"} 3.055');
    expect(text).toContain('t_seconds_count{method="POST",route="/health",status="200"} 1');
    expect(text).toContain('t_seconds_bucket{le="0.01",method="GET",route="/health",status="404"} 0');
    expect(series.counts().map(({ labels, count }) => [labels.method, labels.status, count])).toEqual([
      ['GET', '200', 3],
      ['POST', '200', 1],
      ['GET', '404', 1],
    ]);
  });
});
