import { test, expect } from "@playwright/test";

test("pages are server-rendered with security headers, then hydrate without errors", async ({ page }) => {
  const errors: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  const response = await page.goto("/signup");
  const headers = response!.headers();
  expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["x-frame-options"]).toBe("DENY");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Create your Fitroom account");
  // Wait for the wasm, then check nothing complained (a CSP that blocked it would).
  await page.waitForFunction(() => (window as any).__fitroomHydrated === true || document.readyState === "complete");
  await page.waitForTimeout(500);
  expect(errors, "no console errors (CSP violations included)").toEqual([]);
});

test("health and readiness answer 200", async ({ request }) => {
  const health = await request.get("/healthz");
  expect(health.status()).toBe(200);
  expect(await health.json()).toEqual({ status: "ok" });
  const ready = await request.get("/readyz");
  expect(ready.status()).toBe(200);
});

test("an unknown page answers 404 with a way back", async ({ page }) => {
  const response = await page.goto("/no-such-page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("link", { name: "Back to the fitting room" })).toBeVisible();
});
