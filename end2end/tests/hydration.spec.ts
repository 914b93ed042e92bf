import { test, expect } from "@playwright/test";

test("the first page is server-rendered, then hydrated so that its button works", async ({ page }) => {
  const errors: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  const response = await page.goto("/");
  const headers = response!.headers();
  expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["x-frame-options"]).toBe("DENY");
  await expect(page.getByRole("heading", { level: 1, name: "Fitroom" })).toBeVisible();

  // The button is disabled in the server's HTML and enabled only by the running wasm.
  const main = page.locator("main[data-hydrated]");
  await expect(main).toHaveAttribute("data-hydrated", "true");
  const button = page.getByRole("button", { name: "Spin the mirror" });
  await expect(button).toBeEnabled();

  await button.click();
  await expect(page.getByRole("status")).toHaveText("The mirror turned once.");
  await button.click();
  await expect(page.getByRole("status")).toHaveText("The mirror turned 2 times.");
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
