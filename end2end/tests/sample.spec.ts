import { test, expect } from "@playwright/test";
import { signUp } from "./helpers";

test("a new visitor tries the samples and sees a result without a photo of their own", async ({ page }, info) => {
  await signUp(page, `sampler-${Date.now()}@example.com`);
  const tryOn = page.getByRole("button", { name: "Try it on" });
  await expect(tryOn).toBeEnabled();
  await page.getByRole("button", { name: "Try with a sample" }).click();
  await expect(page.getByAltText("Preview of your photo")).toBeVisible();
  await expect(page.getByAltText("Preview of the garment")).toBeVisible();
  await tryOn.click();
  await expect(page.getByTestId("result")).toBeVisible({ timeout: 20_000 });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: info.outputPath("sample-result-phone.png"), fullPage: true });
});
