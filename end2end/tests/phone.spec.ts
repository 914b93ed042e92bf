import { test, expect, Page, Request } from "@playwright/test";
import { grantCredits, png, signUp } from "./helpers";

// A phone: most shoppers try clothes on from one.
test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });

/** A 4032×3024 JPEG (a 12 MP phone photo), drawn by the browser itself. */
async function phonePhoto(page: Page): Promise<Buffer> {
  const base64 = await page.evaluate(async () => {
    const canvas = new OffscreenCanvas(4032, 3024);
    const g = canvas.getContext("2d")!;
    g.fillStyle = "#dfe7ef";
    g.fillRect(0, 0, 4032, 3024);
    g.fillStyle = "#b07850";
    g.beginPath();
    g.ellipse(2016, 900, 380, 460, 0, 0, Math.PI * 2);
    g.fill();
    g.fillRect(1400, 1400, 1232, 1624);
    const blob = await canvas.convertToBlob({ type: "image/jpeg", quality: 0.9 });
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let text = "";
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text);
  });
  return Buffer.from(base64, "base64");
}

/** The bytes of one file field of a multipart request. */
function filePart(request: Request, field: string): Buffer {
  const type = request.headers()["content-type"] ?? "";
  const boundary = type.split("boundary=")[1];
  const body = request.postDataBuffer() ?? Buffer.alloc(0);
  let at = 0;
  for (;;) {
    const start = body.indexOf(`--${boundary}`, at);
    if (start < 0) throw new Error(`no ${field} part`);
    const headerEnd = body.indexOf("\r\n\r\n", start);
    const next = body.indexOf(`\r\n--${boundary}`, headerEnd);
    const headers = body.subarray(start, headerEnd).toString();
    if (headers.includes(`name="${field}"`)) return body.subarray(headerEnd + 4, next);
    at = next + 2;
  }
}

/** Width and height of an image, as the browser decodes it. */
async function dimensions(page: Page, bytes: Buffer): Promise<[number, number]> {
  return page.evaluate(async (base64) => {
    const raw = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([raw]));
    return [bitmap.width, bitmap.height] as [number, number];
  }, bytes.toString("base64"));
}

test("every state of the try-on page on a phone, and a 12 MP photo sent at 2048 px", async ({ page, baseURL }, info) => {
  const shot = (name: string) => page.screenshot({ path: info.outputPath(`phone-${name}.png`), fullPage: true });
  const email = `phone-${Date.now()}@example.com`;
  await signUp(page, email);
  grantCredits(email, 10);
  await page.reload();
  const tryOn = page.getByRole("button", { name: "Try it on" });
  await expect(tryOn).toBeEnabled();
  // The camera opens straight from the photo field on a phone.
  await expect(page.getByLabel("Your photo")).toHaveAttribute("capture", "user");
  await shot("1-empty");

  const photo = await phonePhoto(page);
  await page.getByLabel("Your photo").setInputFiles({ name: "IMG_0001.jpg", mimeType: "image/jpeg", buffer: photo });
  await page.getByText("Save this photo for next time").click();
  await page.getByLabel("Garment photo").setInputFiles({ name: "shirt.png", mimeType: "image/png", buffer: png(30, 110, 60) });
  await expect(page.getByAltText("Preview of your photo")).toBeVisible();
  await expect(page.getByAltText("Preview of the garment")).toBeVisible();
  await shot("2-chosen");

  // Hold the status polls so that the progress line can be seen.
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route(/\/api\/generations\/[^/]+$/, async (route) => {
    await held;
    await route.continue();
  });
  const sent = page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/api/generations"));
  await tryOn.click();
  const request = await sent;
  const person = filePart(request, "person_image");
  expect(await dimensions(page, person)).toEqual([2048, 1536]);
  expect(person.length).toBeLessThan(photo.length);
  await expect(page.getByRole("status").filter({ hasText: /Queued|Processing/ })).toBeVisible();
  await shot("3-in-progress");
  release(); // later polls pass straight through

  await expect(page.getByTestId("result")).toBeVisible({ timeout: 20_000 });
  await shot("4-result");

  // The saved photo is offered on the next visit; the garment comes from a shop's page.
  await page.reload();
  await page.getByRole("radio", { name: /Saved photo from/ }).check();
  await page.getByLabel("Garment link").fill(`${baseURL}/samples/shop/linen-shirt.html`);
  await page.getByRole("button", { name: "Fetch garment" }).click();
  await expect(page.getByTestId("fetched-garment")).toHaveText("Green linen shirt");
  await shot("5-saved-photo-and-link");
  await tryOn.click();
  await expect(page.getByTestId("result")).toBeVisible({ timeout: 20_000 });

  // Several garments at once, side by side as they arrive.
  await page.reload();
  await page.getByLabel("Your photo").setInputFiles({ name: "me.png", mimeType: "image/png", buffer: png(200, 170, 150) });
  const colours: [number, number, number][] = [[200, 20, 20], [20, 160, 40], [30, 40, 200]];
  await page.getByLabel("Garment photo").setInputFiles(colours.map((c, i) => ({ name: `garment-${i + 1}.png`, mimeType: "image/png", buffer: png(...c) })));
  await tryOn.click();
  await expect(page.getByTestId("multi-result").getByRole("img")).toHaveCount(3, { timeout: 30_000 });
  await shot("6-several-garments");

  // Five try-ons from 3 sign-up credits and 10 granted.
  await expect(page.getByTestId("header-balance")).toHaveText("8 credits", { timeout: 15_000 });
});
