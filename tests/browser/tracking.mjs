// A tracked copy in a real browser: Debian's Chromium driven by
// playwright-core (no browser download). Run by tests/it/tracking.rs:
//   node tests/browser/tracking.mjs COPY_HTML_FILE EXPECTED_LANDING_URL
// Opens the copy's HTML from a file (as a mail client renders it, images
// on), waits until the tracking pixel has loaded, clicks the first tracked
// link and checks that the browser lands on the original URL. Exits
// non-zero with a message on the first step that fails.
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";

const [file, expected] = process.argv.slice(2);
if (!file || !expected) {
  console.error("usage: node tracking.mjs COPY_HTML_FILE EXPECTED_LANDING_URL");
  process.exit(2);
}

// A desktop Chrome user agent: a person's browser. Headless Chromium's own
// ("HeadlessChrome") is on the machine list, as scanners use it.
const UA =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
let step = "start";
const fail = (msg) => { throw new Error(`${step}: ${msg}`); };
try {
  const context = await browser.newContext({ userAgent: UA });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);

  step = "open the copy";
  const pixel = page.waitForResponse((r) => r.url().includes("/t/o/"));
  await page.goto(pathToFileURL(file).href);
  const res = await pixel;
  if (res.status() !== 200) fail(`pixel answered ${res.status()}`);
  const type = res.headers()["content-type"];
  if (type !== "image/gif") fail(`pixel content-type ${type}`);
  const body = await res.body();
  if (body.length !== 43) fail(`pixel is ${body.length} bytes`);
  console.log("ok - the pixel loaded (43-byte GIF)");

  step = "click a tracked link";
  const link = page.locator('a[href*="/t/c/"]').first();
  if ((await link.count()) === 0) fail("no tracked link in the copy");
  await Promise.all([page.waitForURL(expected), link.click()]);
  if (page.url() !== expected) fail(`landed on ${page.url()}, expected ${expected}`);
  console.log(`ok - landed on ${page.url()}`);
} catch (e) {
  console.error(`not ok - ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
