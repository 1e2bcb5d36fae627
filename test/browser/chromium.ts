/**
 * A headless Chromium for the dashboard's browser tests and its screenshot script, driven by puppeteer-core (which
 * never downloads a browser: it drives the one installed). `.ci/run` installs Debian's `chromium` when it is missing.
 */
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** The Chromium to drive: `CHROMIUM_PATH`, else the first of the usual install paths that exists. */
export function findChromium(): string | undefined {
  const configured = process.env['CHROMIUM_PATH'];
  if (configured !== undefined && configured !== '') return configured;
  return CANDIDATES.find((path) => existsSync(path));
}

/** `skip` option for a browser test: false when a Chromium is here, else why the test does not run. */
export function needsChromium(): string | false {
  return findChromium() === undefined
    ? `no Chromium found (looked at CHROMIUM_PATH and ${CANDIDATES.join(', ')}): the dashboard's browser tests are skipped; install one with "apt-get install chromium" or set CHROMIUM_PATH`
    : false;
}

/**
 * Starts headless Chromium. Without the background-networking flags Chromium reaches for Google's hosts at every
 * start, which a closed network refuses; `--no-sandbox` because CI runs as root.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (executablePath === undefined) throw new Error(needsChromium() || 'no Chromium');
  return puppeteer.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** A browser page for one test, closed with its browser when the test ends; page errors fail loudly. */
export async function browserPage(t: TestContext, defer: (cleanup: () => Promise<void>) => void = (c) => t.after(c)): Promise<{ page: Page; errors: string[] }> {
  const browser = await launchChromium();
  defer(() => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('console', (message) => {
    // A refused request (401) logs a console error by design; anything else is a defect of the page.
    if (message.type() === 'error' && !/status of 401/.test(message.text())) errors.push(message.text());
  });
  return { page, errors };
}
