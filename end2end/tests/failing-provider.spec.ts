import { test, expect } from "@playwright/test";
import * as fs from "fs";
import * as path from "path";
import { png, signUp } from "./helpers";

test("a failed generation says the shopper was not charged and leaves the balance unchanged", async ({ page }, info) => {
  await signUp(page, `unlucky-${Date.now()}@example.com`);
  const file = info.outputPath("me.png");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, png(200, 170, 150));
  await page.getByLabel("Your photo").setInputFiles(file);
  await page.getByLabel("Describe the outfit").fill("a yellow raincoat");
  await page.getByRole("button", { name: "Try it on" }).click();
  const alert = page.getByRole("alert").filter({ hasText: "not charged" });
  await expect(alert).toBeVisible({ timeout: 20_000 });
  await page.screenshot({ path: info.outputPath("failed.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: info.outputPath("phone-7-failed.png"), fullPage: true });
  await page.goto("/account");
  await expect(page.getByTestId("available")).toHaveText("3");
  await expect(page.getByTestId("held")).toHaveText("0");
  await expect(page.getByText("Returned (not charged)")).toBeVisible();
});
