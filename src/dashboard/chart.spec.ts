import { barChart } from './chart';

const heights = (svg: string, className: string) =>
  [...svg.matchAll(new RegExp(`<rect class="${className}"[^>]* height="([\\d.]+)"`, 'g'))].map((m) => Number(m[1]));

describe('barChart', () => {
  it('draws bars whose heights are proportional to the values, stacked per label', () => {
    const svg = barChart({
      title: 'Requests',
      labels: ['a', 'b', 'c'],
      series: [
        { name: 'ok', className: 'ok', values: [10, 5, 0] },
        { name: 'denied', className: 'no', values: [10, 0, 2] },
      ],
    }).toHTML();
    const ok = heights(svg, 'ok');
    const no = heights(svg, 'no');
    expect(ok).toHaveLength(2);
    expect(no).toHaveLength(2);
    // The tallest stack (20) fills the plot; 5 is a quarter of it, 2 a tenth.
    const full = ok[0] + no[0];
    expect(ok[0]).toBeCloseTo(full / 2, 0);
    expect(ok[1]).toBeCloseTo(full / 4, 0);
    expect(no[1]).toBeCloseTo(full / 10, 0);
    expect(svg).toContain('role="img"');
    expect(svg).toContain('aria-label="Requests"');
    expect(svg).toContain('<title>Requests</title>');
    expect(svg).toContain('>20</text>');
  });

  it('renders the empty state when every value is 0 (or there are none)', () => {
    for (const values of [[0, 0], []]) {
      const html = barChart({
        title: 'Requests',
        labels: values.map(String),
        series: [{ name: 'ok', className: 'ok', values }],
        emptyText: 'No requests yet.',
      }).toHTML();
      expect(html).toBe('<p class="chart-empty">No requests yet.</p>');
    }
  });

  it('escapes the title, labels and series names', () => {
    const svg = barChart({
      title: '<script>t</script>',
      labels: ['<b>"x"</b>'],
      series: [{ name: "<i>'n'</i>", className: 'ok"><script>', values: [1] }],
    }).toHTML();
    expect(svg).not.toMatch(/<script>|<b>|<i>/);
    expect(svg).toContain('&lt;script&gt;t&lt;/script&gt;');
    expect(svg).toContain('&lt;b&gt;&quot;x&quot;&lt;/b&gt;');
    expect(svg).toContain('&lt;i&gt;&#39;n&#39;&lt;/i&gt;');
  });

  it('draws every n-th label only', () => {
    const labels = Array.from({ length: 12 }, (_, i) => `h${i}`);
    const svg = barChart({
      title: 'x',
      labels,
      series: [{ name: 'ok', className: 'ok', values: labels.map(() => 1) }],
      labelEvery: 6,
    }).toHTML();
    expect([...svg.matchAll(/class="label"[^>]*>([^<]*)</g)].map((m) => m[1])).toEqual(['h0', 'h6']);
  });
});
