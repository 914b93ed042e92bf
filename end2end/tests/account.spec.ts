import { test, expect, Page } from "@playwright/test";
import * as fs from "fs";
import * as path from "path";
import { e2eDataDir, png, signUp } from "./helpers";

// The account's life: a forgotten password replaced through the mailed link (the outbox, as the
// embedded default keeps mail without SMTP), the password changed, sessions, deleting the
// account, and what /privacy says is kept.

/** The newest mail in the outbox addressed to `email`, waited for. */
async function mailTo(email: string): Promise<string> {
  const dir = path.join(e2eDataDir(), "outbox");
  let found = "";
  await expect
    .poll(() => {
      const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".eml")).sort() : [];
      const mails = files.map((f) => fs.readFileSync(path.join(dir, f), "utf8")).filter((m) => m.includes(`To: ${email}`));
      found = mails[mails.length - 1] ?? "";
      return found.length > 0;
    }, { timeout: 15_000 })
    .toBe(true);
  return found.replace(/=\r?\n/g, "").replace(/=3D/g, "=");
}

function linkIn(mail: string, page: string): string {
  const match = mail.match(new RegExp(`(http://[^\\s"<>]+/${page}\\?token=[0-9a-f]{64})`));
  expect(match, mail).not.toBeNull();
  return match![1];
}

async function signIn(page: Page, email: string, password: string) {
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

test("a forgotten password is replaced through the mailed link, which works once", async ({ page, browser }) => {
  const email = `forgetful-${Date.now()}@example.com`;
  await signUp(page, email);
  const other = await (await browser.newContext()).newPage();
  await signIn(other, email, "correct horse battery");
  await expect(other).toHaveURL(/\/$/);

  const visitor = await (await browser.newContext()).newPage();
  await visitor.goto("/login");
  await visitor.getByRole("link", { name: "Forgot password?" }).click();
  await visitor.getByLabel("Email").fill(email);
  await visitor.getByRole("button", { name: "Send reset link" }).click();
  await expect(visitor.getByRole("status")).toContainText("If an account has this address");

  const link = linkIn(await mailTo(email), "reset-password");
  await visitor.goto(link);
  await visitor.getByLabel("New password").fill("a brand new secret");
  await visitor.getByRole("button", { name: "Set new password" }).click();
  await expect(visitor.getByRole("status")).toContainText("Your password is changed");

  // Every session ended: the first device is sent to sign in.
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login/);
  await signIn(visitor, email, "a brand new secret");
  await expect(visitor).toHaveURL(/\/$/);

  // The link worked once.
  await other.goto(link);
  await other.getByLabel("New password").fill("yet another secret");
  await other.getByRole("button", { name: "Set new password" }).click();
  await expect(other.getByRole("alert")).toContainText("link");
});

test("a shopper sees their sessions, signs one out, and deletes the account", async ({ page, browser }) => {
  const email = `leaving-${Date.now()}@example.com`;
  await signUp(page, email);
  const phone = await (await browser.newContext({ userAgent: "PhoneBrowser/1.0" })).newPage();
  await signIn(phone, email, "correct horse battery");
  await expect(phone).toHaveURL(/\/$/);
  const r = await page.request.post("/api/generations", {
    multipart: { person_image: { name: "me.png", mimeType: "image/png", buffer: png(120, 90, 60) }, prompt: "a coat" },
  });
  expect(r.status()).toBe(202);
  const id = (await r.json()).id;

  await page.goto("/account");
  await page.getByRole("link", { name: /Security and privacy/ }).click();
  await expect(page.getByTestId("session")).toHaveCount(2);
  await page.getByTestId("session").filter({ hasText: "PhoneBrowser/1.0" }).getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("status")).toContainText("signed out");
  await expect(page.getByTestId("session")).toHaveCount(1);
  await phone.goto("/account");
  await expect(phone).toHaveURL(/\/login/);

  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download my data" }).click();
  expect((await download).suggestedFilename()).toBe("fitroom-export.zip");

  const deletion = page.getByRole("region", { name: "Delete account" });
  await deletion.getByLabel("Password").fill("wrong password");
  await deletion.getByRole("button", { name: "Delete account" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "password" })).toBeVisible();
  await page.getByRole("region", { name: "Delete account" }).getByLabel("Password").fill("correct horse battery");
  await page.getByRole("region", { name: "Delete account" }).getByRole("button", { name: "Delete account" }).click();
  await expect(page).toHaveURL(/\/privacy\?deleted=1/);
  await expect(page.getByRole("status")).toContainText("Your account is deleted");

  // Gone: signed out, the generation's pictures with it, the address free again.
  expect((await page.request.get(`/api/generations/${id}`)).status()).toBe(401);
  await signIn(page, email, "correct horse battery");
  await expect(page.getByRole("alert")).toContainText(/email or password/i);
  await signUp(page, email);
});

test("changing the password signs every other device out, and only the new one works", async ({ page, browser }) => {
  const email = `changing-${Date.now()}@example.com`;
  await signUp(page, email);
  const other = await (await browser.newContext()).newPage();
  await signIn(other, email, "correct horse battery");
  await expect(other).toHaveURL(/\/$/);

  await page.goto("/account/security");
  // FITROOM_VERIFY_EMAIL is off here: the page does not ask to confirm the address.
  await expect(page.getByRole("region", { name: "Email address" })).toContainText(email);
  await expect(page.getByText("not confirmed yet")).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Send the confirmation link again" })).toHaveCount(0);

  const form = page.getByRole("region", { name: "Change password" });
  await form.getByLabel("Current password").fill("not my password");
  await form.getByLabel("New password").fill("a brand new secret");
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /password/i })).toBeVisible();
  await page.getByRole("region", { name: "Change password" }).getByLabel("Current password").fill("correct horse battery");
  await page.getByRole("region", { name: "Change password" }).getByLabel("New password").fill("a brand new secret");
  await page.getByRole("region", { name: "Change password" }).getByRole("button", { name: "Change password" }).click();
  await expect(page.getByRole("status")).toContainText("Your password is changed");

  // This device stays signed in; the other one is sent to sign in.
  await page.goto("/account");
  await expect(page).toHaveURL(/\/account$/);
  await other.goto("/account");
  await expect(other).toHaveURL(/\/login/);
  await signIn(other, email, "correct horse battery");
  await expect(other.getByRole("alert")).toContainText(/email or password/i);
  await signIn(other, email, "a brand new secret");
  await expect(other).toHaveURL(/\/$/);
});

test("signing out everywhere ends every session, this one too", async ({ page, browser }) => {
  const email = `everywhere-${Date.now()}@example.com`;
  await signUp(page, email);
  const phone = await (await browser.newContext({ userAgent: "PhoneBrowser/2.0" })).newPage();
  await signIn(phone, email, "correct horse battery");
  await expect(phone).toHaveURL(/\/$/);

  await page.goto("/account/security");
  await expect(page.getByTestId("session")).toHaveCount(2);
  await page.getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login/);
  await phone.goto("/account");
  await expect(phone).toHaveURL(/\/login/);
  await signIn(phone, email, "correct horse battery");
  await expect(phone).toHaveURL(/\/$/);
});

test("the privacy page states what this server keeps, from its configuration", async ({ page }) => {
  // As the server renders it, before any script runs (the browser tests' server keeps input
  // photos 6 hours and results 30 days).
  const html = (await (await page.request.get("/privacy")).text()).replace(/<!--.*?-->/g, "");
  expect(html).toContain("deleted 6 hours after the try-on ends");
  expect(html).toContain("for 30 days after the try-on");
  expect(html).toContain("deleted 6 hours after it was fetched");

  await page.goto("/privacy");
  await expect(page.getByTestId("inputs-kept")).toContainText("deleted 6 hours after the try-on ends");
  await expect(page.getByTestId("results-kept")).toContainText("Kept for 30 days after the try-on");
  await expect(page.getByTestId("saved-kept")).toContainText("until you delete your account");
  await expect(page.getByTestId("garments-kept")).toContainText("deleted 6 hours after it was fetched");
});
