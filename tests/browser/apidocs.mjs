// The API documentation page in a real browser: Debian's Chromium driven
// by playwright-core (no browser download). Run by tests/it/openapi.rs:
//   node tests/browser/apidocs.mjs BASE_URL OPERATION_COUNT
// Opens BASE_URL/api/docs/, waits until Swagger UI has rendered every
// operation of the served document, then runs `GET /healthz` with
// "Try it out" and checks the page shows the server's 200. Any request to
// another origin (a CDN) is refused and fails the run, as does any
// request the server answers with an error. Exits non-zero with a message
// on the first step that fails.
import { chromium } from "playwright-core";

const [base, count] = process.argv.slice(2);
if (!base || !count) {
  console.error("usage: node apidocs.mjs BASE_URL OPERATION_COUNT");
  process.exit(2);
}
const origin = new URL(base).origin;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
let step = "start";
const fail = (msg) => { throw new Error(msg); };
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  const elsewhere = [];
  const failed = [];
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (new URL(url).origin !== origin) {
      elsewhere.push(url);
      return route.abort();
    }
    return route.continue();
  });
  page.on("response", (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));

  step = "render the document";
  await page.goto(`${base}/api/docs/`);
  await page.waitForSelector(".opblock");
  await page.waitForFunction(
    (n) => document.querySelectorAll(".opblock").length >= n,
    Number(count),
  );
  const shown = await page.locator(".opblock").count();
  if (shown !== Number(count)) fail(`${shown} operations shown, the document has ${count}`);
  const title = await page.locator(".info .title").innerText();
  if (!title.includes("mailtrail")) fail(`title is ${JSON.stringify(title)}`);
  console.log(`ok - ${shown} operations rendered under "${title.split("\n")[0]}"`);

  step = "try GET /healthz";
  const op = page.locator("#operations-operations-healthz");
  await op.locator(".opblock-summary").first().click();
  await op.locator(".try-out__btn").click();
  const answer = page.waitForResponse((r) => r.url() === `${origin}/healthz`);
  await op.locator(".execute").click();
  const res = await answer;
  if (res.status() !== 200) fail(`/healthz answered ${res.status()}`);
  await op.locator(".live-responses-table tr.response .response-col_status").first().waitFor();
  const status = (await op.locator(".live-responses-table tr.response .response-col_status").first().innerText()).trim();
  if (!status.startsWith("200")) fail(`the page shows ${JSON.stringify(status)}`);
  console.log("ok - Try it out on GET /healthz shows 200");

  step = "stay on this server";
  if (elsewhere.length) fail(`requests to other origins: ${elsewhere.join(", ")}`);
  if (failed.length) fail(`failed requests: ${failed.join(", ")}`);
  if (errors.length) fail(`script errors: ${errors.join("; ")}`);
  console.log("ok - nothing loaded from elsewhere, no failed request, no script error");
} catch (e) {
  console.error(`not ok - ${step}: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
