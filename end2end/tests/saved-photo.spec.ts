import { test, expect } from "@playwright/test";
import { png, signUp } from "./helpers";

test("a saved photo makes the second try-on need no upload at all", async ({ page }) => {
  await signUp(page, `saver-${Date.now()}@example.com`);
  const tryOn = page.getByRole("button", { name: "Try it on" });
  await expect(tryOn).toBeEnabled();
  await page.getByLabel("Your photo").setInputFiles({ name: "me.png", mimeType: "image/png", buffer: png(200, 170, 150) });
  await page.getByLabel("Save this photo for next time").check();
  await page.getByLabel("Describe the outfit").fill("a red raincoat");
  await tryOn.click();
  await expect(page.getByTestId("result")).toBeVisible({ timeout: 20_000 });

  await page.reload();
  await expect(tryOn).toBeEnabled();
  const group = page.getByRole("group", { name: "Use a saved photo" });
  await expect(group.getByRole("img")).toHaveCount(1);
  await group.getByRole("radio").nth(1).check();
  await expect(page.getByLabel("Your photo")).toBeDisabled();
  await page.getByLabel("Describe the outfit").fill("a green linen shirt");
  await tryOn.click();
  await expect(page.getByTestId("result")).toBeVisible({ timeout: 20_000 });
  const generations = await (await page.request.get("/api/generations")).json();
  expect(generations.items.map((g: any) => g.status)).toEqual(["succeeded", "succeeded"]);
});
