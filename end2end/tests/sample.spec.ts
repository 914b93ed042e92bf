import { test, expect } from "@playwright/test";
import { grantCredits, png, signUp } from "./helpers";

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

test("four garments at once: one try-on each, side by side as they arrive", async ({ page }) => {
  const email = `wardrobe-${Date.now()}@example.com`;
  await signUp(page, email);
  grantCredits(email, 5);
  await page.reload();
  const tryOn = page.getByRole("button", { name: "Try it on" });
  await expect(tryOn).toBeEnabled();
  await page.getByLabel("Your photo").setInputFiles({ name: "me.png", mimeType: "image/png", buffer: png(200, 170, 150) });
  const colours: [number, number, number][] = [[200, 20, 20], [20, 160, 40], [30, 40, 200], [220, 200, 30]];
  await page.getByLabel("Garment photo").setInputFiles(colours.map((c, i) => ({ name: `garment-${i + 1}.png`, mimeType: "image/png", buffer: png(...c) })));
  await expect(page.getByText("4 try-ons, 4 credits. You have 8.")).toBeVisible();
  await tryOn.click();
  const cards = page.getByTestId("multi-result");
  await expect(cards).toHaveCount(4);
  await expect(cards.getByRole("img")).toHaveCount(4, { timeout: 30_000 });
  await expect(page.getByTestId("header-balance")).toHaveText("4 credits", { timeout: 15_000 });
  const generations = await (await page.request.get("/api/generations")).json();
  expect(generations.items.map((g: any) => g.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);

  // Five is one too many: refused on the page, before anything is sent.
  await page.getByLabel("Garment photo").setInputFiles([...colours, colours[0]].map((c, i) => ({ name: `g${i}.png`, mimeType: "image/png", buffer: png(...c) })));
  await expect(page.getByRole("alert").filter({ hasText: "Up to 4 garments" })).toBeVisible();
});
