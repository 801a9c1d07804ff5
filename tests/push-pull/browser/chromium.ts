// Headless Chromium for the browser tests: the system's Chromium (Debian's package, which
// .ci/run installs), driven by playwright-core, which never downloads a browser of its own; and
// the page's client bundled by esbuild.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type BrowserServer } from 'playwright-core';

/** The Chromium binary: `ENTITY_SYNC_CHROMIUM`, or Debian's `/usr/bin/chromium`. */
export const CHROMIUM = process.env.ENTITY_SYNC_CHROMIUM ?? '/usr/bin/chromium';

// the machine's network is closed: no background connections, no updates, no sign-in; a fresh profile comes with every launch
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Whether browser suites should run: when Chromium is installed, and always under CI (where a
 * missing browser must fail the run, not leave the suite out).
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM) || process.env.CI === 'true') return true;
  console.warn(`entity-sync tests: no Chromium at ${CHROMIUM}; browser suites do not run (apt-get install -y chromium)`);
  return false;
}

/** A running headless Chromium and how to stop it for sure. */
export interface Chromium {
  browser: Browser;
  /** Closes the browser; one that does not close within `ms` is killed. */
  close(ms?: number): Promise<void>;
}

/** Starts headless Chromium (failing after `ms`) and connects to it. */
export async function launchChromium(ms = 30_000): Promise<Chromium> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package chromium (.ci/run does)`);
  // Playwright gives the browser a new empty --user-data-dir and removes it at close
  const server: BrowserServer = await chromium.launchServer({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: ms });
  // should the test process end before the after hook, the browser ends with it
  const killOnExit = () => server.process().kill('SIGKILL');
  process.once('exit', killOnExit);
  let browser: Browser;
  try {
    browser = await chromium.connect(server.wsEndpoint(), { timeout: ms });
  } catch (error) {
    await server.kill();
    throw error;
  }
  return {
    browser,
    async close(closeMs = 10_000) {
      process.off('exit', killOnExit);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const closed = Promise.all([browser.close(), server.close()]).then(() => true, () => false);
      const late = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), closeMs); });
      const done = await Promise.race([closed, late]);
      clearTimeout(timer);
      if (!done) await server.kill();
    },
  };
}

/** The page's client (`client.ts` beside this file) bundled for the browser, as one ES module. */
export async function bundleClient(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./client.ts', import.meta.url))],
    bundle: true, write: false, format: 'esm', platform: 'browser', target: 'chrome120', logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}
