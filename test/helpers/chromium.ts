import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { Page } from "playwright-core";

const CHROMIUM = process.env.LAVIT_CHROMIUM ?? "/usr/bin/chromium";

/**
 * Opens an HTML report in headless Chromium (Debian's package, driven by playwright-core) and
 * runs `check` on the page. Skipped without Chromium, unless CI says it must be there
 * (LAVIT_EXPECT_CHROMIUM=1), so there the check cannot be skipped.
 */
export async function inChromium(html: string, viewport: { width: number; height: number }, check: (page: Page) => Promise<void>): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    if (process.env.LAVIT_EXPECT_CHROMIUM === "1") throw new Error(`Chromium not found at ${CHROMIUM}`);
    return;
  }
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport });
    await page.goto(pathToFileURL(html).href);
    await check(page);
  } finally {
    await browser.close();
  }
}
