// The Convert page in a real browser: Debian's Chromium driven by
// playwright-core (no browser download). Run by tests/it/convert.rs:
//   node tests/browser/convert.mjs BASEURL EMAIL PASSWORD ZIP_OUT FILE...
// Signs in, converts FILE... (the first one twice, under the same name) on
// the Convert page, waits for each to be converted or refused, then
// downloads everything as one .zip into ZIP_OUT. The test checks the zip.
// Exits non-zero with a message on the first step that fails.
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";

const [base, email, password, zipOut, ...files] = process.argv.slice(2);
if (!base || !email || !password || !zipOut || files.length === 0) {
  console.error("usage: node convert.mjs BASEURL EMAIL PASSWORD ZIP_OUT FILE...");
  process.exit(2);
}
const shots = process.env.SCREENSHOT_DIR || "target/screenshots";
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
let step = "start";
const ok = (what) => console.log(`ok - ${what}`);
const fail = (msg) => { throw new Error(`${step}: ${msg}`); };

try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);

  step = "sign in";
  await page.goto(`${base}/login`);
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/`);
  ok(step);

  step = "convert";
  await page.goto(`${base}/convert`);
  await page.getByRole("heading", { name: "Convert Outlook files" }).waitFor();
  const zipButton = page.locator("#convert-zip");
  if (await zipButton.isVisible()) fail("the zip button shows before anything is converted");
  const inputs = [files[0], ...files].map((f) => ({
    name: basename(f),
    mimeType: "application/vnd.ms-outlook",
    buffer: readFileSync(f),
  }));
  await page.setInputFiles("#convert-files", inputs);
  // Every file ends as a download link or an error text.
  await page.waitForFunction(
    (n) => Array.from(document.querySelectorAll("#convert-list li"))
      .filter((li) => li.querySelector("a") || /\S/.test(li.lastChild.textContent)).length === n,
    inputs.length,
  );
  const links = await page.locator("#convert-list a").count();
  const refused = await page.locator("#convert-list li", { hasText: "Not converted" }).count();
  console.log(`converted ${links}, refused ${refused}`);
  await page.screenshot({ path: join(shots, "convert-zip.png"), fullPage: true });
  if (links === 0) fail("nothing was converted");
  const label = await zipButton.textContent();
  if (!label.includes(`(${links} file`)) fail(`the zip button says "${label}" for ${links} converted files`);
  ok(step);

  step = "download the zip";
  const [download] = await Promise.all([page.waitForEvent("download"), zipButton.click()]);
  if (download.suggestedFilename() !== "converted.zip") {
    fail(`the download is named ${download.suggestedFilename()}`);
  }
  await download.saveAs(zipOut);
  ok(step);
} catch (e) {
  console.error(`not ok - ${e.message}`);
  await browser.close();
  process.exit(1);
}
await browser.close();
