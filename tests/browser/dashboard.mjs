// The dashboard in a real browser: Debian's Chromium driven by
// playwright-core (no browser download). Run by tests/it/dashboard.rs:
//   node tests/browser/dashboard.mjs BASEURL EMAIL PASSWORD
// Exits non-zero with a message on the first step that fails. Screenshots
// go to $SCREENSHOT_DIR (default target/screenshots).
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [base, email, password] = process.argv.slice(2);
if (!base || !email || !password) {
  console.error("usage: node dashboard.mjs BASEURL EMAIL PASSWORD");
  process.exit(2);
}
const shots = process.env.SCREENSHOT_DIR || "target/screenshots";
mkdirSync(shots, { recursive: true });

// A desktop Chrome user agent: the tracking endpoints treat "HeadlessChrome"
// as what it is, a machine.
const UA =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    // Also for requests from frames (the sandbox copy's pixel), which the
    // context's userAgent option does not reach.
    `--user-agent=${UA}`,
  ],
});
let step = "start";
const ok = (what) => console.log(`ok - ${what}`);
const fail = (msg) => { throw new Error(`${step}: ${msg}`); };
const shot = async (page, name) => {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
};

try {
  const context = await browser.newContext({ userAgent: UA, viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);

  step = "sign in";
  await page.goto(`${base}/`);
  if (!page.url().endsWith("/login")) fail(`expected the sign-in page, got ${page.url()}`);
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("do not match").waitFor();
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/`);
  await page.getByRole("heading", { name: "Emails" }).waitFor();
  await shot(page, "01-emails-empty");
  ok(step);

  step = "compose";
  const subject = `Browser check ${Date.now()}`;
  await page.getByRole("link", { name: "Compose" }).click();
  await page.getByLabel("To").fill("reader@example.test");
  await page.getByLabel("Subject").fill(subject);
  await page.getByLabel("Body", { exact: true }).fill(
    '<p>Hello from the browser test. <a href="https://example.com/docs">Read the docs</a></p>');
  await page.getByLabel("Ask for a read receipt").check();
  await page.getByLabel("Track opens and clicks").check();
  await page.setInputFiles("#attachments", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("notes") });
  await shot(page, "02-compose");
  await page.getByRole("button", { name: "Send" }).click();
  await page.waitForURL(/\/messages\/[0-9a-f-]+$/);
  const detailUrl = page.url();
  globalThis.detailUrl = detailUrl;
  await page.getByRole("heading", { name: subject }).waitFor();
  ok(step);

  step = "see the row, delivered";
  let delivered = false;
  for (let i = 0; i < 50 && !delivered; i++) {
    await page.goto(`${base}/`);
    const row = page.locator("li.message", { hasText: subject });
    if (await row.count() !== 1) fail("the sent message has no row");
    delivered = (await row.locator("summary .status .label").innerText()) === "delivered";
    if (!delivered) await page.waitForTimeout(200);
  }
  if (!delivered) fail("the row never showed delivered");
  const row = page.locator("li.message", { hasText: subject });
  await row.locator("summary").click();
  await row.getByText("reader@example.test").first().waitFor();
  await shot(page, "03-emails-row-expanded");
  ok(step);

  step = "filter by status";
  await page.getByLabel("failed", { exact: true }).check();
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/status=failed/);
  if (await page.locator("li.message", { hasText: subject }).count() !== 0) fail("failed filter shows a delivered message");
  await page.getByText("No emails match").waitFor();
  await page.getByLabel("delivered", { exact: true }).check();
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/status=delivered/);
  await page.locator("li.message", { hasText: subject }).waitFor();
  await shot(page, "04-filtered");
  ok(step);

  step = "open the detail";
  await page.goto(detailUrl);
  await page.getByRole("heading", { name: "Timeline" }).first().waitFor();
  await page.getByText("notes.txt").waitFor();
  await shot(page, "05-detail");
  ok(step);

  step = "live feed, then open the sandbox copy";
  const live = await context.newPage();
  await live.goto(`${base}/live`);
  await live.getByText("Connected").waitFor();
  // No person reads a mail within two seconds of it being built: the
  // tracking endpoints call such opens a machine's. Wait like a reader.
  await page.waitForTimeout(2500);
  await page.goto(`${base}/sandbox`);
  await page.getByRole("link", { name: subject }).click();
  await page.getByRole("heading", { name: subject }).waitFor();
  const frame = page.frameLocator("iframe.copy");
  await frame.getByText("Hello from the browser test").waitFor();
  await shot(page, "06-sandbox-copy");
  // The preview records nothing: no tracking pixel in the frame, and no
  // open reaches the live feed while it is shown.
  const pixels = await frame.locator('img[src*="/t/o/"]').count();
  if (pixels !== 0) fail(`the preview carries ${pixels} tracking pixel(s)`);
  await page.waitForTimeout(1500);
  if ((await live.locator("#feed li", { hasText: "opened" }).count()) !== 0) fail("viewing the preview recorded an open");
  // The recipient's mail client loads the pixel of the copy's source.
  const raw = (await page.locator("pre.raw").textContent())
    .replace(/=\r?\n/g, "").replace(/=3D/g, "=");
  const pixelUrl = raw.match(/https?:\/\/[^"\s]+\/t\/o\/[A-Za-z0-9_-]+/);
  if (!pixelUrl) fail("no tracking pixel in the copy's source");
  await page.request.get(pixelUrl[0]);
  const event = live.locator("#feed li", { hasText: "opened by a person" });
  await event.waitFor({ timeout: 10000 });
  if (!(await event.innerText()).includes(subject)) fail("the live event names another message");
  await shot(live, "07-live-feed");
  ok(step);

  step = "the row says opened by a person";
  await page.goto(`${base}/`);
  const opened = page.locator("li.message", { hasText: subject }).locator("summary .status .label");
  const label = await opened.innerText();
  if (label !== "opened by a person") fail(`row status is ${JSON.stringify(label)}`);
  await shot(page, "08-emails-opened");
  ok(step);

  step = "stats";
  await page.getByRole("link", { name: "Stats" }).click();
  await page.getByRole("heading", { name: /^Stats/ }).waitFor();
  await shot(page, "09-stats");
  ok(step);

  step = "contact page from the row";
  await page.goto(`${base}/`);
  const contactRow = page.locator("li.message", { hasText: subject });
  await contactRow.locator("summary").click();
  await contactRow.getByRole("link", { name: "reader@example.test" }).click();
  await page.waitForURL(`${base}/contacts/reader@example.test`);
  await page.getByRole("heading", { name: "Contact reader@example.test" }).waitFor();
  const timeline = page.locator("ol.timeline.contact");
  await timeline.locator("li", { hasText: "opened by a person" }).first().waitFor();
  await timeline.locator("li", { hasText: "delivered" }).first().waitFor();
  // Newest first: the open comes before the delivery.
  const items = await timeline.locator("li > strong").allInnerTexts();
  if (items.indexOf("opened by a person") > items.indexOf("delivered")) fail(`not newest first: ${items}`);
  await shot(page, "11-contact");
  await timeline.getByRole("link", { name: subject }).first().click();
  await page.waitForURL(detailUrl);
  ok(step);

  step = "API keys listed and revoked in Settings";
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByLabel("Name of the new key").fill("browser key for the CRM integration");
  await page.getByRole("button", { name: "Create a key" }).click();
  await page.getByText("shown only this once").waitFor();
  // Use the key once, so that its row shows when it was last used.
  const newKey = (await page.locator("code.key").innerText()).trim();
  const used = await page.request.get(`${base}/api/v1/messages`, { headers: { Authorization: `Bearer ${newKey}` } });
  if (used.status() !== 200) fail(`the new key did not work: ${used.status()}`);
  await page.goto(`${base}/settings`);
  const keyRow = page.locator("table.keys tr", { hasText: "browser key" });
  if ((await keyRow.locator("td.when").nth(1).innerText()).trim() === "never") fail("the key's use is not shown");
  // At a common laptop width the whole table fits its card: the Revoke
  // button is not cut off or scrolled out of sight.
  await page.setViewportSize({ width: 1280, height: 800 });
  const keysCard = page.locator("section.card", { has: page.locator("table.keys") });
  const revoke = keyRow.getByRole("button", { name: /^Revoke the key browser key/ });
  const cardBox = await keysCard.boundingBox();
  const revokeBox = await revoke.boundingBox();
  if (!cardBox || !revokeBox) fail("the keys card or its Revoke button has no box");
  if (revokeBox.x < cardBox.x || revokeBox.x + revokeBox.width > cardBox.x + cardBox.width
      || revokeBox.y < cardBox.y || revokeBox.y + revokeBox.height > cardBox.y + cardBox.height) {
    fail(`the Revoke button ${JSON.stringify(revokeBox)} is not inside its card ${JSON.stringify(cardBox)} at 1280 px`);
  }
  const wrap = page.locator("section.card .table-wrap", { has: page.locator("table.keys") });
  const overflow = await wrap.evaluate((el) => el.scrollWidth - el.clientWidth);
  if (overflow > 0) fail(`the keys table is ${overflow} px wider than its card at 1280 px`);
  await shot(page, "12a-settings-keys-1280");
  await page.setViewportSize({ width: 1100, height: 800 });
  await revoke.click();
  await page.getByText("The key is revoked.").waitFor();
  await page.locator("table.keys tr", { hasText: "browser key" }).getByText(/^revoked /).waitFor();
  await shot(page, "12-settings-keys");
  ok(step);

  step = "sender networks: a bad line is named, nothing saved";
  await page.getByLabel("Sender networks, one per line").fill("203.0.113.0/24\nnot a network");
  await page.getByRole("button", { name: "Save sender networks" }).click();
  await page.getByText("Line 2:").waitFor();
  await page.getByLabel("Sender networks, one per line").fill("203.0.113.0/24");
  await page.getByRole("button", { name: "Save sender networks" }).click();
  await page.getByText("Saved.").waitFor();
  if ((await page.getByLabel("Sender networks, one per line").inputValue()) !== "203.0.113.0/24") fail("the networks were not kept");
  ok(step);

  step = "users page";
  await page.getByRole("link", { name: "Users" }).click();
  await page.getByRole("heading", { name: "Users", exact: true }).waitFor();
  await page.getByLabel("Address").fill("colleague@example.test");
  await page.getByLabel(/Initial password/).fill("short");
  await page.getByRole("button", { name: "Add the user" }).click();
  // The browser's own check (minlength) or the server's message.
  if (page.url().endsWith("/admin/users")) {
    const invalid = await page.getByLabel(/Initial password/).evaluate((el) => !el.validity.valid);
    if (!invalid) await page.getByText("at least 8 characters").waitFor();
  }
  await page.getByLabel(/Initial password/).fill("a colleague's password");
  // Keyboard: Enter in the form submits it.
  await page.getByLabel(/Initial password/).press("Enter");
  await page.getByText("The user is added").waitFor();
  const userRow = page.locator("table.users tr", { hasText: "colleague@example.test" });
  await userRow.getByText("user", { exact: true }).waitFor();
  await userRow.getByRole("button", { name: "Make colleague@example.test an administrator" }).click();
  await page.getByText("The administrator flag is changed").waitFor();
  await page.locator("table.users tr", { hasText: "colleague@example.test" }).getByText("administrator", { exact: true }).waitFor();
  await shot(page, "13-users");
  await page.locator("table.users tr", { hasText: "colleague@example.test" })
    .getByRole("button", { name: "Remove colleague@example.test" }).click();
  await page.getByText("The user is removed").waitFor();
  if (await page.locator("table.users tr", { hasText: "colleague@example.test" }).count() !== 0) fail("the removed user is still listed");
  ok(step);

  step = "phone width";
  await page.setViewportSize({ width: 375, height: 740 });
  for (const [path, name] of [["/", "10-phone"], ["/contacts/reader@example.test", "14-phone-contact"], ["/admin/users", "15-phone-users"], ["/settings", "16-phone-settings"]]) {
    await page.goto(`${base}${path}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    if (overflow) fail(`${path} scrolls sideways at 375 px`);
    await shot(page, name);
  }
  ok(step);

  step = "sign out";
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${base}/login`);
  await page.goto(`${base}/`);
  if (!page.url().endsWith("/login")) fail("still signed in after signing out");
  ok(step);
  console.log("browser flow: all steps passed");
} catch (e) {
  console.error(`FAILED at step "${step}": ${e.message}`);
  // What the server recorded, to tell a dashboard bug from a tracking one.
  try {
    const p = await browser.contexts()[0].newPage();
    if (globalThis.detailUrl) {
      await p.goto(globalThis.detailUrl);
      console.error("detail page:\n" + (await p.locator("main").innerText()));
    }
  } catch (_) { /* best effort */ }
  process.exitCode = 1;
} finally {
  await browser.close();
}
