import { test, expect, Browser, Page } from "@playwright/test";
import { makeAdmin, png, signUp } from "./helpers";

// The operator console: 404 for everyone but admins, usable without JavaScript, and each write
// with a reason that the audit log keeps.

const PAGES = ["/admin", "/admin/providers", "/admin/jobs", "/admin/jobs/job_0", "/admin/users", "/admin/users/user_0", "/admin/audit"];

async function newAdmin(browser: Browser, javaScriptEnabled = true): Promise<Page> {
  const context = await browser.newContext({ javaScriptEnabled });
  const page = await context.newPage();
  const email = `ops-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  // Signing up needs no script: the form posts and the server redirects.
  await signUp(page, email);
  makeAdmin(email);
  return page;
}

async function newShopper(browser: Browser): Promise<{ page: Page; email: string }> {
  const page = await (await browser.newContext()).newPage();
  const email = `shopper-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  await signUp(page, email);
  return { page, email };
}

test("every console page is 404 for a visitor and for a shopper", async ({ browser, request }) => {
  for (const p of PAGES) {
    const r = await request.get(p, { maxRedirects: 0 });
    expect(r.status(), `${p} as a visitor`).toBe(404);
  }
  const { page } = await newShopper(browser);
  for (const p of PAGES) {
    const r = await page.request.get(p, { maxRedirects: 0 });
    expect(r.status(), `${p} as a shopper`).toBe(404);
    expect(await r.text()).not.toContain("Operations");
  }
  await page.goto("/admin");
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();

  // The console's server functions, whose addresses any admin page shows in its forms, are as
  // absent: 404, and nothing changes.
  const admin = await newAdmin(browser, false);
  const me = await (await page.request.get("/api/me")).json();
  await admin.goto(`/admin/users/${me.id}`);
  const action = await admin.locator("form", { has: admin.getByRole("button", { name: "Grant credits" }) }).getAttribute("action");
  expect(action).toMatch(/^\/_fn\//);
  const form = { user_id: me.id, amount: "50", expires_in_days: "", reason: "not an admin" };
  for (const [who, client] of [["a visitor", (await browser.newContext()).request], ["a shopper", page.request]] as const) {
    const r = await client.post(action!, { form, maxRedirects: 0 });
    expect(r.status(), `a console function as ${who}`).toBe(404);
  }
  expect((await (await page.request.get("/api/credits")).json()).available).toBe(3);
});

test("an admin grants credits with a reason, without JavaScript, and the audit log keeps it", async ({ browser }) => {
  const shopper = await newShopper(browser);
  const admin = await newAdmin(browser, false);
  await admin.goto("/admin");
  await expect(admin.getByRole("heading", { name: "Operations" })).toBeVisible();
  await admin.getByRole("link", { name: "Users" }).click();
  await admin.getByLabel("Email contains").fill(shopper.email);
  await admin.getByRole("button", { name: "Search" }).click();
  await admin.getByRole("link", { name: shopper.email }).click();
  await expect(admin.getByTestId("available")).toHaveText("3");

  // The browser refuses an empty reason before anything is sent.
  await admin.getByLabel("Amount").fill("5");
  await admin.getByRole("button", { name: "Grant credits" }).click();
  await expect(admin.getByTestId("available")).toHaveText("3");

  const reason = `refund for ticket ${Date.now()}`;
  await admin.getByLabel("Reason", { exact: true }).first().fill(reason);
  await admin.getByRole("button", { name: "Grant credits" }).click();
  await expect(admin.getByRole("status")).toHaveText("Granted 5 credits.");
  await expect(admin.getByTestId("available")).toHaveText("8");
  await expect(admin.getByTestId("package-row").filter({ hasText: "Granted by ops-" })).toBeVisible();

  await shopper.page.goto("/account");
  await expect(shopper.page.getByTestId("available")).toHaveText("8");

  await admin.getByRole("link", { name: "Audit log" }).click();
  const row = admin.getByTestId("audit-row").filter({ hasText: reason });
  await expect(row).toContainText("grant_credits");
  await expect(row).toContainText(`5 credits: ${reason}`);
});

test("an admin suspends a shopper: the session ends and signing in is refused until lifted", async ({ browser }) => {
  const shopper = await newShopper(browser);
  const admin = await newAdmin(browser);
  await admin.goto(`/admin/users?email=${encodeURIComponent(shopper.email)}`);
  await admin.getByRole("link", { name: shopper.email }).click();
  const suspend = admin.getByRole("region", { name: "Suspend this account" });
  await suspend.getByLabel("Reason").fill("chargeback fraud");
  await suspend.getByRole("button", { name: "Suspend" }).click();
  await expect(admin.getByRole("status")).toHaveText("Suspended.");
  await expect(admin.getByTestId("account-state")).toHaveText("Suspended");

  await shopper.page.goto("/account");
  await expect(shopper.page).toHaveURL(/\/login/);
  await shopper.page.getByLabel("Email").fill(shopper.email);
  await shopper.page.getByLabel("Password").fill("correct horse battery");
  await shopper.page.getByRole("button", { name: "Sign in" }).click();
  await expect(shopper.page.getByRole("alert")).toContainText("suspended");

  const lift = admin.getByRole("region", { name: "Lift the suspension" });
  await lift.getByLabel("Reason").fill("cleared by the bank");
  await lift.getByRole("button", { name: "Unsuspend" }).click();
  await expect(admin.getByTestId("account-state")).toHaveText("Active");
  await shopper.page.getByLabel("Email").fill(shopper.email);
  await shopper.page.getByLabel("Password").fill("correct horse battery");
  await shopper.page.getByRole("button", { name: "Sign in" }).click();
  await expect(shopper.page).toHaveURL(/\/account$/);
});

test("an admin follows a shopper's try-on to its timeline and verifies the ledger", async ({ browser }) => {
  const shopper = await newShopper(browser);
  const r = await shopper.page.request.post("/api/generations", {
    multipart: { person_image: { name: "me.png", mimeType: "image/png", buffer: png(120, 90, 60) }, prompt: "a coat" },
  });
  expect(r.status(), await r.text()).toBe(202);
  const id = (await r.json()).id as string;
  await expect.poll(async () => (await (await shopper.page.request.get(`/api/generations/${id}`)).json()).status, { timeout: 20_000 }).toBe("succeeded");

  const admin = await newAdmin(browser);
  await admin.goto(`/admin/jobs?email=${encodeURIComponent(shopper.email)}`);
  await admin.getByRole("link", { name: id }).click();
  await expect(admin.getByRole("heading", { name: `Job ${id}` })).toBeVisible();
  const kinds = await admin.getByTestId("timeline-event").locator("td:nth-child(2)").allTextContents();
  expect(kinds.slice(0, 3)).toEqual(["created", "held", "routed"]);
  expect(kinds).toContain("stored");
  expect(kinds[kinds.length - 1]).toBe("settled");
  await expect(admin.getByAltText("The job's result image")).toBeVisible();
  expect(await admin.getByAltText("The job's result image").evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);

  await admin.goto("/admin");
  await admin.getByRole("button", { name: "Verify the ledger now" }).click();
  await expect(admin.getByRole("status")).toContainText("every invariant holds");
  await expect(admin.getByTestId("last-verification")).toContainText("Clean");
  await expect(admin.getByTestId("provider-row").filter({ hasText: "local" })).toContainText("ok");
});
