/** Plots for the benchmark reports: a horizontal bar chart as SVG, rendered to PNG by Debian's Chromium. */
import { writeFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';

export interface Bar {
  label: string;
  value: number;
  /** Optional second series drawn beside it (e.g. a comparison system). */
  note?: string;
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Log-scaled horizontal bars: the values here span four orders of magnitude. */
export function barChartSvg(title: string, unit: string, bars: Bar[], log = true): string {
  const width = 900;
  const left = 340;
  const row = 28;
  const top = 50;
  const height = top + bars.length * row + 40;
  const max = Math.max(...bars.map((b) => b.value));
  const min = Math.min(...bars.map((b) => b.value));
  const lo = log ? Math.pow(10, Math.floor(Math.log10(min))) : 0;
  const hi = log ? Math.pow(10, Math.ceil(Math.log10(max))) : max * 1.1;
  const scale = (v: number) =>
    (log ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : v / hi) * (width - left - 90);
  const ticks = log
    ? Array.from({ length: Math.round(Math.log10(hi / lo)) + 1 }, (_, i) => lo * Math.pow(10, i))
    : Array.from({ length: 5 }, (_, i) => (hi / 4) * i);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escape(title)}</text>`,
    ...ticks.map((t) => {
      const x = left + scale(t);
      return `<line x1="${x}" y1="${top - 6}" x2="${x}" y2="${height - 34}" stroke="#ddd"/><text x="${x}" y="${height - 18}" text-anchor="middle" fill="#555">${t >= 1 ? t : t.toPrecision(1)} ${unit}</text>`;
    }),
    ...bars.map((b, i) => {
      const y = top + i * row;
      const w = Math.max(1, scale(b.value));
      return [
        `<text x="${left - 8}" y="${y + 17}" text-anchor="end">${escape(b.label)}</text>`,
        `<rect x="${left}" y="${y + 4}" width="${w}" height="${row - 8}" fill="#2563eb" rx="2"/>`,
        `<text x="${left + w + 6}" y="${y + 17}" fill="#222">${b.value < 10 ? b.value.toFixed(2) : b.value.toFixed(1)}${b.note ? ` ${escape(b.note)}` : ''}</text>`,
      ].join('');
    }),
    `</svg>`,
  ];
  return parts.join('\n');
}

export async function svgToPng(svg: string, path: string): Promise<void> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage({ deviceScaleFactor: 1 });
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
    await writeFile(path, await page.locator('svg').screenshot());
  } finally {
    await browser.close();
  }
}
