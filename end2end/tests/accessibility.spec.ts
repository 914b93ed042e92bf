import { test, expect, Page } from "@playwright/test";
import * as path from "path";
import { makeAdmin, png as makePng, signUp } from "./helpers";

// axe is injected as a script, which our Content-Security-Policy rightly refuses.
test.use({ bypassCSP: true });

const AXE = path.join(__dirname, "..", "..", "node_modules", "axe-core", "axe.min.js");

async function violations(page: Page, impacts: string[]) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => (window as any).axe.run(document, { resultTypes: ["violations"] }));
  return result.violations
    .filter((v: any) => impacts.includes(v.impact))
    .map((v: any) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n: any) => n.target.join(" ")).join(", ")})`);
}

const seriousViolations = (page: Page) => violations(page, ["serious", "critical"]);
// The console is held to every rule axe has, whatever its impact.
const anyViolations = (page: Page) => violations(page, ["minor", "moderate", "serious", "critical"]);

for (const size of [{ name: "phone", width: 390, height: 844 }, { name: "desktop", width: 1280, height: 800 }]) {
  test(`every page passes axe with no serious or critical violation (${size.name})`, async ({ page }, info) => {
    await page.setViewportSize({ width: size.width, height: size.height });
    for (const p of ["/login", "/signup", "/forgot-password", "/reset-password?token=0", "/verify-email?token=0", "/privacy"]) {
      await page.goto(p);
      expect(await seriousViolations(page), p).toEqual([]);
      await page.screenshot({ path: info.outputPath(`${p.slice(1).split("?")[0]}-${size.name}.png`), fullPage: true });
    }
    await signUp(page, `a11y-${size.name}-${Date.now()}@example.com`);
    for (const p of ["/", "/history", "/account", "/account/security"]) {
      await page.goto(p);
      await page.waitForLoadState("networkidle");
      expect(await seriousViolations(page), p).toEqual([]);
      await page.screenshot({ path: info.outputPath(`${p === "/" ? "try-on" : p.slice(1).replace("/", "-")}-${size.name}.png`), fullPage: true });
    }
  });
}

test("a shopper without credits is told so and pointed to the account page", async ({ page }) => {
  await signUp(page, `broke-${Date.now()}@example.com`);
  // Spend the three welcome credits through the API, with the page's own session.
  const png = makePng(120, 90, 60);
  for (let i = 0; i < 3; i++) {
    const r = await page.request.post("/api/generations", {
      multipart: { person_image: { name: "me.png", mimeType: "image/png", buffer: png }, prompt: "a coat" },
    });
    expect(r.status(), await r.text()).toBe(202);
  }
  await expect.poll(async () => (await (await page.request.get("/api/me")).json()).credits.available).toBe(0);
  await expect
    .poll(async () => (await (await page.request.get("/api/me")).json()).credits.held, { timeout: 20_000 })
    .toBe(0);
  await page.reload();
  await page.getByLabel("Your photo").setInputFiles({ name: "me.png", mimeType: "image/png", buffer: png });
  await page.getByLabel("Describe the outfit").fill("a red coat");
  await page.getByRole("button", { name: "Try it on" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "credits" })).toBeVisible();
  await expect(page.getByRole("link", { name: "See your credits" })).toHaveAttribute("href", "/account");
});

for (const size of [{ name: "phone", width: 390, height: 844 }, { name: "desktop", width: 1280, height: 800 }]) {
  test(`the console's pages pass axe (${size.name})`, async ({ browser }, info) => {
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: size.width, height: size.height } });
    const page = await context.newPage();
    const email = `a11y-ops-${size.name}-${Date.now()}@example.com`;
    await signUp(page, email);
    makeAdmin(email);
    const me = await (await page.request.get("/api/me")).json();
    await page.request.post("/api/generations", {
      multipart: { person_image: { name: "me.png", mimeType: "image/png", buffer: makePng(120, 90, 60) }, prompt: "a coat" },
    });
    const jobs = await (await page.request.get("/api/generations")).json();
    const job = jobs.items[0].id;
    // Something in every list: a grant puts a row in the audit log and the user's packages.
    const granted = await page.request.post(`/api/admin/users/${me.id}/grants`, { data: { amount: 2, reason: "axe check" } });
    expect(granted.status()).toBe(201);
    await page.request.post("/api/admin/providers/local/reset", { data: { reason: "axe check" } });
    await page.request.post(`/api/admin/jobs/${job}/cancel`, { data: { reason: "axe check" } });
    const pages = ["/admin", "/admin/providers", "/admin/jobs", `/admin/jobs/${job}`, "/admin/users", `/admin/users/${me.id}`, "/admin/audit",
      `/admin/users/${me.id}?done=Granted+2+credits.`, "/admin?error=Something+was+wrong."];
    for (const p of pages) {
      await page.goto(p);
      expect(await anyViolations(page), p).toEqual([]);
      await page.screenshot({ path: info.outputPath(`${p.slice(1).split("?")[0].replace(/\//g, "-").slice(0, 40)}${p.includes("?") ? "-notice" : ""}-${size.name}.png`), fullPage: true });
    }
  });
}
