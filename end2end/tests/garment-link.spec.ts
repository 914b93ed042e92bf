import { test, expect } from "@playwright/test";
import { png, signUp } from "./helpers";

test("a garment from a product link is fetched, shown and tried on", async ({ page, baseURL }) => {
  await signUp(page, `linker-${Date.now()}@example.com`);
  const tryOn = page.getByRole("button", { name: "Try it on" });
  await expect(tryOn).toBeEnabled();
  await page.getByLabel("Garment link").fill(`${baseURL}/samples/shop/linen-shirt.html`);
  await page.getByRole("button", { name: "Fetch garment" }).click();
  await expect(page.getByTestId("fetched-garment")).toHaveText("Green linen shirt");
  await expect(page.getByAltText("Preview of the garment")).toBeVisible();
  expect(await page.getByAltText("Preview of the garment").evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(300);
  await expect(page.getByLabel("Garment photo")).toBeDisabled();

  await page.getByLabel("Your photo").setInputFiles({ name: "me.png", mimeType: "image/png", buffer: png(200, 170, 150) });
  await tryOn.click();
  await expect(page.getByTestId("result")).toBeVisible({ timeout: 20_000 });

  // A page with no product picture (the sign-in page) says so.
  await page.getByRole("button", { name: "Use another garment" }).click();
  await page.getByLabel("Garment link").fill(`${baseURL}/login`);
  await page.getByRole("button", { name: "Fetch garment" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "No garment picture" })).toBeVisible();
});
