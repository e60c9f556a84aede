import { execFileSync } from "node:child_process";
import { expect, test, type Download } from "@playwright/test";
import { commitBankPayout, employee, LARA_LOGIN, open, payoutsOf, signedInContext, UI_TIMEOUT, type Payout } from "./helpers";

// Payout slips (issue 10): the PDF of a committed payout, downloaded through the links of the
// payout page (owner) and of the employee's own page (employee), read back with `pdftotext`
// (poppler-utils, installed by scripts/bootstrap.sh). Runs as the demo owner, whose September
// payouts are committed at seed.

/** The text of a downloaded PDF, whitespace runs folded to one space. */
async function pdfText(download: Download): Promise<string> {
  const path = await download.path();
  const text = execFileSync("pdftotext", ["-layout", "-enc", "UTF-8", path, "-"], { encoding: "utf8" });
  return text.split(/\s+/).join(" ");
}

/** A committed payout of the demo (September, paid at seed), as the API lists it. */
async function aCommittedPayout(request: import("@playwright/test").APIRequestContext): Promise<Payout> {
  const response = await request.get("/api/v1/payouts?state=committed");
  expect(response.status(), await response.text()).toBe(200);
  const committed = (await response.json()) as Payout[];
  expect(committed.length).toBeGreaterThan(0);
  return committed[0];
}

test.describe("Payout slips", () => {
  test("the owner downloads the slip of a committed payout and it shows the payout's total", async ({ page, request }) => {
    const payout = await aCommittedPayout(request);
    await open(page, `/payouts/${payout.id}`);
    // Page and slip put a no-break space after CHF (CLDR); pdfText folds it to a plain one.
    const total = (await page.locator("dl.facts dd.total").innerText()).trim().replace(/\u00a0/g, " ");
    expect(total).toMatch(/^CHF [\d']+\.\d{2}$/);

    const link = page.getByRole("link", { name: "Download slip (PDF)" });
    await expect(link).toBeVisible({ timeout: UI_TIMEOUT });
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    expect(download.suggestedFilename()).toMatch(/^slip-.+-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.pdf$/);
    const text = await pdfText(download);
    expect(text).toContain(payout.employee_name);
    expect(text).toContain(total);
    expect(text).toContain(payout.id);
  });

  test("Lara downloads her own slip from her page and cannot fetch a colleague's", async ({ browser, baseURL, request }) => {
    const lara = await employee(request, "Lara Meier");
    if ((await payoutsOf(request, lara.id, "committed")).length === 0) {
      await commitBankPayout(request, "Lara Meier");
    }
    const [hers] = await payoutsOf(request, lara.id, "committed");
    const colleagues = await aCommittedPayout(request).then(async (first) =>
      first.employee_id === lara.id
        ? ((await (await request.get("/api/v1/payouts?state=committed")).json()) as Payout[]).find((p) => p.employee_id !== lara.id)
        : first,
    );
    expect(colleagues).toBeDefined();

    const { context, page } = await signedInContext(browser, baseURL, LARA_LOGIN, `/employees/${lara.id}`);
    try {
      await expect(page.getByRole("heading", { level: 1, name: "Lara Meier" })).toBeVisible({ timeout: UI_TIMEOUT });

      const row = page.locator(`table.payouts tr[data-payout-id="${hers.id}"]`);
      await expect(row).toBeVisible({ timeout: UI_TIMEOUT });
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        row.getByRole("link", { name: "Download slip (PDF)" }).click(),
      ]);
      const text = await pdfText(download);
      expect(text).toContain("Lara Meier");
      expect(text).toContain(hers.id);

      // Another employee's payout does not exist for her (as with GET /api/v1/payouts/{id}).
      const refused = await page.request.get(`/api/v1/payouts/${(colleagues as Payout).id}/slip.pdf`);
      expect(refused.status()).toBe(404);
    } finally {
      await context.close();
    }
  });
});
