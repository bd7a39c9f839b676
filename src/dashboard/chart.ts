import Handlebars from 'handlebars';

/** One stacked series of a bar chart; its colour comes from `className` in dashboard.css. */
export interface ChartSeries {
  name: string;
  className: string;
  values: number[];
}

export interface BarChartSpec {
  /** Says what the chart shows; becomes its <title> and accessible name. */
  title: string;
  /** One label per bar, under the axis (every `labelEvery`-th is drawn). */
  labels: string[];
  series: ChartSeries[];
  labelEvery?: number;
  /** Shown instead of the chart when every value is 0. */
  emptyText?: string;
}

const WIDTH = 720;
const HEIGHT = 220;
const PLOT = { left: 44, right: 8, top: 12, bottom: 30 };

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeXml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

const round = (n: number) => Math.round(n * 10) / 10;

/**
 * A stacked bar chart as inline SVG, drawn on the server (no script, works offline). This is
 * the one piece of markup built outside a template, so every text in it goes through escapeXml;
 * it is handed to Handlebars as a SafeString so `{{chart}}` leaves it as is.
 */
export function barChart(spec: BarChartSpec): Handlebars.SafeString {
  const totals = spec.labels.map((_, i) => spec.series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = Math.max(0, ...totals);
  if (max === 0)
    return new Handlebars.SafeString(
      `<p class="chart-empty">${escapeXml(spec.emptyText ?? 'Nothing to show for this period.')}</p>`,
    );

  const plotWidth = WIDTH - PLOT.left - PLOT.right;
  const plotHeight = HEIGHT - PLOT.top - PLOT.bottom;
  const slot = plotWidth / Math.max(1, spec.labels.length);
  const barWidth = Math.max(1, slot * 0.7);
  const every = Math.max(1, spec.labelEvery ?? 1);
  const baseline = PLOT.top + plotHeight;
  const parts: string[] = [];

  parts.push(`<line class="axis" x1="${PLOT.left}" y1="${baseline}" x2="${WIDTH - PLOT.right}" y2="${baseline}"/>`);
  parts.push(`<line class="grid" x1="${PLOT.left}" y1="${PLOT.top}" x2="${WIDTH - PLOT.right}" y2="${PLOT.top}"/>`);
  parts.push(`<text class="tick" x="${PLOT.left - 6}" y="${PLOT.top + 4}" text-anchor="end">${max}</text>`);
  parts.push(`<text class="tick" x="${PLOT.left - 6}" y="${baseline + 4}" text-anchor="end">0</text>`);

  spec.labels.forEach((label, i) => {
    const x = round(PLOT.left + i * slot + (slot - barWidth) / 2);
    let top = baseline;
    const tooltip = [label, ...spec.series.map((s) => `${s.name}: ${s.values[i] ?? 0}`)].join(', ');
    const rects: string[] = [];
    for (const series of spec.series) {
      const value = series.values[i] ?? 0;
      if (value <= 0) continue;
      const height = (value / max) * plotHeight;
      top -= height;
      rects.push(
        `<rect class="${escapeXml(series.className)}" x="${x}" y="${round(top)}" width="${round(barWidth)}" height="${round(height)}"/>`,
      );
    }
    if (rects.length) parts.push(`<g><title>${escapeXml(tooltip)}</title>${rects.join('')}</g>`);
    if (i % every === 0)
      parts.push(
        `<text class="label" x="${round(x + barWidth / 2)}" y="${baseline + 18}" text-anchor="middle">${escapeXml(label)}</text>`,
      );
  });

  const title = escapeXml(spec.title);
  const legend = spec.series
    .map(
      (s) => `<li><span class="swatch ${escapeXml(s.className)}" aria-hidden="true"></span>${escapeXml(s.name)}</li>`,
    )
    .join('');
  return new Handlebars.SafeString(
    `<figure class="chart"><svg role="img" aria-label="${title}" viewBox="0 0 ${WIDTH} ${HEIGHT}" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg"><title>${title}</title>${parts.join('')}</svg>` +
      `<figcaption><ul class="legend">${legend}</ul></figcaption></figure>`,
  );
}
