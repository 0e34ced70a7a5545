// A horizontal bar chart as server-side SVG: escaped labels, role="img" with a title and description, no script, no style attribute.
import { html, type Html } from '../html.js';

export interface Bar {
  label: string;
  /** One value per series (null: nothing to draw, e.g. no incident was acknowledged). */
  values: ReadonlyArray<number | null>;
}

export interface ChartSpec {
  /** Unique on the page: ties the title and description to the SVG. */
  id: string;
  title: string;
  /** What the chart shows in words, for screen readers (the table beside it has the numbers). */
  description: string;
  series: readonly string[];
  bars: readonly Bar[];
  format: (value: number) => string;
}

const LABEL_W = 140;
const PLOT_W = 360;
const VALUE_W = 70;
const BAR_H = 14;
const GAP = 10;
const LEGEND_H = 24;
/** Series colours; each has 4.5:1 contrast or better on white. */
const FILLS = ['#1d4ed8', '#b45309', '#047857'];

export function barChart(spec: ChartSpec): Html {
  const max = Math.max(1, ...spec.bars.flatMap((b) => b.values.filter((v): v is number => v !== null)));
  const groupH = spec.series.length * BAR_H + GAP;
  const height = LEGEND_H + Math.max(1, spec.bars.length) * groupH;
  const width = LABEL_W + PLOT_W + VALUE_W;
  const legend = spec.series.map(
    (name, s) =>
      html`<rect x="${LABEL_W + s * 110}" y="4" width="12" height="12" fill="${FILLS[s % FILLS.length]}"/><text x="${LABEL_W + s * 110 + 16}" y="14" font-size="12">${name}</text>`,
  );
  const groups = spec.bars.map((bar, i) => {
    const top = LEGEND_H + i * groupH;
    const rows = bar.values.map((v, s) => {
      const y = top + s * BAR_H;
      const w = v === null ? 0 : Math.max(1, Math.round((v / max) * PLOT_W));
      return html`<rect x="${LABEL_W}" y="${y}" width="${w}" height="${BAR_H - 2}" fill="${FILLS[s % FILLS.length]}"/><text x="${LABEL_W + w + 4}" y="${y + BAR_H - 4}" font-size="11">${v === null ? '—' : spec.format(v)}</text>`;
    });
    return html`<g><text x="${LABEL_W - 6}" y="${top + (spec.series.length * BAR_H) / 2 + 4}" font-size="12" text-anchor="end">${bar.label.length > 22 ? `${bar.label.slice(0, 21)}…` : bar.label}</text>${rows}</g>`;
  });
  return html`<svg class="chart" id="${spec.id}" role="img" aria-labelledby="${spec.id}-title ${spec.id}-desc" viewBox="0 0 ${width} ${height}" width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">
<title id="${spec.id}-title">${spec.title}</title>
<desc id="${spec.id}-desc">${spec.description}</desc>
${legend}${spec.bars.length === 0 ? html`<text x="${LABEL_W}" y="${LEGEND_H + 12}" font-size="12">No incidents</text>` : groups}
</svg>`;
}
