import { Page, expect } from "@playwright/test";
import * as zlib from "zlib";
import * as path from "path";
import { execFileSync } from "child_process";

// A tiny valid PNG (a 1×1 pixel would be too small to composite nicely, so 8×8).
export function png(r: number, g: number, b: number): Buffer {
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

export async function signUp(page: Page, email: string) {
  await page.goto("/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/$/);
}


const root = path.join(__dirname, "..", "..");
// The servers run from the repository root (playwright.config.ts), so their data directory is
// relative to it.
const dataDir = path.resolve(root, process.env.FITROOM_E2E_DATA_DIR ?? "../target/e2e-data");

/** The data directory of the server the browser tests drive. */
export function e2eDataDir(): string {
  return dataDir;
}

function fitroom(args: string[]) {
  execFileSync(path.join(root, "target", "debug", "fitroom"), args, {
    cwd: root,
    env: { ...process.env, DATABASE_URL: `sqlite://${dataDir}/fitroom.db`, FITROOM_DATA_DIR: dataDir, RUST_LOG: "warn" },
  });
}

/** `fitroom admin add`, against the database of the server the browser tests drive. */
export function makeAdmin(email: string) {
  fitroom(["admin", "add", "--email", email]);
}

/** `fitroom credits grant`, likewise. */
export function grantCredits(email: string, amount: number) {
  fitroom(["credits", "grant", "--email", email, "--amount", String(amount)]);
}
