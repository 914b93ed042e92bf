import { test, expect, Page } from "@playwright/test";
import * as path from "path";
import * as fs from "fs";

// A tiny valid PNG (a 1×1 pixel would be too small to composite nicely, so 8×8).
function png(r: number, g: number, b: number): Buffer {
  const zlib = require("zlib");
  const w = 8, h = 8;
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) raw.set([r, g, b], y * (w * 3 + 1) + 1 + x * 3);
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}
function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) { c ^= byte; for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1; }
  return ~c;
}

async function signUp(page: Page, email: string) {
  await page.goto("/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/$/);
}

test("a visitor is sent to sign in, and the pages need a session", async ({ page, request }) => {
  for (const p of ["/", "/history", "/account"]) {
    const r = await request.get(p, { maxRedirects: 0 });
    expect(r.status(), `${p} answers a real redirect`).toBe(302);
    expect(r.headers()["location"]).toBe(`/login?next=${p}`);
  }
  for (const p of ["/", "/history", "/account"]) {
    await page.goto(p);
    await expect(page).toHaveURL(new RegExp(`/login\\?next=${p.replace("/", "\\/")}$`));
  }
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
});

test("sign up, try something on, see the result, history and credits", async ({ page }, info) => {
  const email = `shopper${Date.now()}@example.com`;
  await signUp(page, email);

  const tryOn = page.getByRole("button", { name: "Try it on" });
  await expect(tryOn).toBeEnabled(); // only the running wasm enables it
  await expect(page.getByText("Costs 1 credit. You have 3.")).toBeVisible();
  const dir = info.outputPath("inputs");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "me.png"), png(200, 170, 150));
  fs.writeFileSync(path.join(dir, "shirt.png"), png(20, 40, 200));
  await page.getByLabel("Your photo").setInputFiles(path.join(dir, "me.png"));
  await page.getByLabel("Garment photo").setInputFiles(path.join(dir, "shirt.png"));
  await expect(page.getByAltText("Preview of your photo")).toBeVisible();
  await tryOn.click();

  const result = page.getByTestId("result");
  await expect(result).toBeVisible({ timeout: 20_000 });
  await expect(page.getByRole("status")).toHaveText("Done");
  await page.screenshot({ path: info.outputPath("try-on.png"), fullPage: true });

  await page.goto("/history");
  await expect(page.getByTestId("generation")).toHaveCount(1);
  await expect(page.getByText("Done")).toBeVisible();

  await page.goto("/account");
  await expect(page.getByRole("heading", { name: "Credits" })).toBeVisible();
  await expect(page.getByTestId("available")).toHaveText("2");
  await expect(page.getByText(/Expires \d{4}-\d{2}-\d{2} \(in 6 days\)/)).toBeVisible();
  await expect(page.getByText("Spent on a generation")).toBeVisible();
  await page.screenshot({ path: info.outputPath("account.png"), fullPage: true });
});

test("wrong credentials are explained on the sign-in form", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("Email").fill("nobody@example.com");
  await page.getByLabel("Password").fill("whatever123");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("wrong email or password");
});
