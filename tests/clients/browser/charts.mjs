// Open a statistics page in headless Chromium with a session cookie, wait for its
// ECharts charts, and report what was drawn (and, with OUT, save a screenshot).
// Env: URL, COOKIE_NAME, COOKIE_VALUE, CHROMIUM (default /usr/bin/chromium), OUT.
import puppeteer from "puppeteer-core";

const url = new URL(process.env.URL);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--lang=zh-CN"],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  await page.setExtraHTTPHeaders({ "Accept-Language": "zh-CN,zh;q=0.9" });
  const problems = [];
  const foreign = [];
  // A failed load is reported by its URL below; the browser's own favicon probe is not the page's.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(m.text());
  });
  page.on("response", (r) => {
    if (r.status() >= 400 && new URL(r.url()).pathname !== "/favicon.ico") {
      problems.push(`${r.status()} ${r.url()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("request", (r) => { if (new URL(r.url()).host !== url.host) foreign.push(r.url()); });
  await page.setCookie({ name: process.env.COOKIE_NAME, value: process.env.COOKIE_VALUE,
    domain: url.hostname, path: "/" });
  const response = await page.goto(url.href, { waitUntil: "networkidle0" });
  await page.waitForFunction(
    () => document.querySelectorAll(".chart").length > 0 &&
      [...document.querySelectorAll(".chart")].every((c) => c.querySelector("canvas")),
    { timeout: 20000 },
  ).catch((e) => problems.push(`charts not drawn: ${e.message} at ${page.url()}`));
  const drawn = await page.$$eval(".chart", (charts) => charts.map((c) => ({
    id: c.id, title: c.getAttribute("aria-label"), canvas: !!c.querySelector("canvas"),
    // An instance ECharts keeps for the element, with the option it drew.
    series: (window.echarts.getInstanceByDom(c)?.getOption().series || []).map(
      (s) => (s.data || []).map((d) => (d && typeof d === "object" ? d.value : d))),
  })));
  if (process.env.OUT) await page.screenshot({ path: process.env.OUT, fullPage: true });
  console.log(JSON.stringify({ status: response.status(), drawn, problems, foreign }));
} finally {
  await browser.close();
}
