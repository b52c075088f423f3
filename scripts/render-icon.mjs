// Renders assets/icon.svg to assets/icon.png (1024x1024, transparent corners) with Debian's Chromium.
// electron-builder derives the .icns and .ico from this PNG. Run again after editing the SVG.
import { readFile, writeFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';

const svg = await readFile(new URL('../assets/icon.svg', import.meta.url), 'utf8');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1024, height: 1024 } });
  await page.setContent(`<html><body style="margin:0;background:transparent">${svg}</body></html>`);
  const png = await page.locator('svg').screenshot({ omitBackground: true });
  await writeFile(new URL('../assets/icon.png', import.meta.url), png);
  console.log(`assets/icon.png: ${png.length} bytes`);
} finally {
  await browser.close();
}
