import { test, expect } from "@playwright/test";
import { png, signUp } from "./helpers";

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

test("the result compares before and after by keyboard, and another garment keeps the photo", async ({ page }) => {
  await signUp(page, `comparer-${Date.now()}@example.com`);
  const tryOn = page.getByRole("button", { name: "Try it on" });
  await expect(tryOn).toBeEnabled();
  await page.getByRole("button", { name: "Try with a sample" }).click();
  await expect(page.getByAltText("Preview of the garment")).toBeVisible();
  await tryOn.click();
  await expect(page.getByTestId("result")).toBeVisible({ timeout: 20_000 });

  const slider = page.getByRole("slider", { name: "Compare before and after" });
  await expect(slider).toHaveAttribute("aria-valuetext", "50% after");
  await slider.focus();
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowRight");
  await expect(slider).toHaveAttribute("aria-valuetext", "60% after");
  await page.keyboard.press("Home");
  await expect(slider).toHaveAttribute("aria-valuetext", "0% after");
  await expect(page.getByRole("button", { name: "View full screen" })).toBeVisible();

  await page.getByRole("button", { name: "Try another garment" }).click();
  await expect(page.getByTestId("result")).toHaveCount(0);
  await expect(page.getByAltText("Preview of your photo")).toBeVisible();
  await expect(page.getByAltText("Preview of the garment")).toHaveCount(0);
  expect(await page.getByLabel("Garment photo").evaluate((i: HTMLInputElement) => i.files?.length ?? 0)).toBe(0);
  expect(await page.getByLabel("Your photo").evaluate((i: HTMLInputElement) => i.files?.length ?? 0)).toBe(1);
});

test("on a desktop a photo can be pasted and a garment dropped", async ({ page }) => {
  await signUp(page, `paster-${Date.now()}@example.com`);
  const tryOn = page.getByRole("button", { name: "Try it on" });
  await expect(tryOn).toBeEnabled();
  const person = [...png(200, 170, 150)];
  const garment = [...png(20, 40, 200)];
  await page.evaluate(([person, garment]) => {
    const file = (bytes: number[], name: string) => new File([new Uint8Array(bytes)], name, { type: "image/png" });
    const pasted = new DataTransfer();
    pasted.items.add(file(person, "pasted.png"));
    const event = new ClipboardEvent("paste", { clipboardData: pasted, bubbles: true, cancelable: true });
    (window as any).pasteFiles = event.clipboardData?.files.length;
    document.getElementById("prompt")!.dispatchEvent(event);
    const dropped = new DataTransfer();
    dropped.items.add(file(garment, "dropped.png"));
    document.getElementById("garment_image")!.dispatchEvent(new DragEvent("drop", { dataTransfer: dropped, bubbles: true, cancelable: true }));
  }, [person, garment]);
  expect(await page.evaluate(() => (window as any).pasteFiles)).toBe(1);
  await expect(page.getByAltText("Preview of your photo")).toBeVisible();
  await expect(page.getByAltText("Preview of the garment")).toBeVisible();
  await tryOn.click();
  await expect(page.getByTestId("result")).toBeVisible({ timeout: 20_000 });
});
