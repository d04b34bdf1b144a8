"""The web UI in a real headless Chromium (Debian's, never a downloaded one).

One browser per module; each test opens its own context on the module's loopback server
and makes its own project. Waits are bounded by Playwright's ``expect`` timeouts.
"""

from __future__ import annotations

import re
import statistics
import threading
import time

import pytest
from playwright.sync_api import Page, Route, expect
from uiseed import USER, XSS, curve, log, make_run, project_name

from lablink.core.lab import Lab

pytestmark = pytest.mark.browser
LIVE_WAIT_MS = 15_000


def chart(page: Page, key: str) -> str:
    return f'figure.chart[data-key="{key}"]'


def test_projects_link_to_their_runs_table(ui_lab: Lab, page: Page) -> None:
    project = project_name()
    make_run(ui_lab, project, "first")
    make_run(ui_lab, project, "second", status=None)
    page.goto("/")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=project))
    expect(row).to_contain_text("1 running")
    row.get_by_role("link", name=project).click()
    expect(page).to_have_url(re.compile(f"/p/{project}$"))
    expect(page.locator("tr[data-run]")).to_have_count(2)


def test_filter_and_sort_the_runs_table(ui_lab: Lab, page: Page) -> None:
    project = project_name()
    for i, lr in enumerate([0.1, 0.01, 0.001]):
        make_run(ui_lab, project, f"lr-{i}", config={"lr": lr})
    page.goto(f"/p/{project}")
    page.get_by_label("Filter", exact=True).fill("params.lr < 0.05")
    page.get_by_label("Filter", exact=True).press("Enter")
    expect(page).to_have_url(re.compile(r"filter=params\.lr"))
    expect(page.locator("tr[data-run]")).to_have_count(2)
    page.get_by_title("Sort by params.lr").click()
    names = page.locator("tr[data-run] td.name")
    expect(names).to_have_text(["lr-1", "lr-2"])  # descending lr
    page.get_by_title("Sort by params.lr").click()
    expect(names).to_have_text(["lr-2", "lr-1"])
    expect(page).to_have_url(re.compile(r"order=asc"))
    page.get_by_label("Filter", exact=True).fill("params.lr <<< 1")
    page.get_by_label("Filter", exact=True).press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Filter error")
    expect(alert.locator("pre.pointer")).to_contain_text("^")
    expect(page.get_by_role("heading", name=project)).to_be_visible()


def test_open_a_run_and_change_chart_options(ui_lab: Lab, page: Page) -> None:
    project = project_name()
    run = make_run(ui_lab, project, "open-me", config={"model": {"depth": 50}})
    page.goto(f"/p/{project}")
    page.get_by_role("link", name="open-me").click()
    expect(page).to_have_url(re.compile(f"/r/{run.id}$"))
    loss = page.locator(chart(page, "train/loss"))
    expect(loss).to_have_attribute("data-points", "50")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_label("Log scale").check()
    expect(page).to_have_url(re.compile(r"log=1"))
    page.get_by_label("X axis").select_option("time")
    expect(page).to_have_url(re.compile(r"x=time"))
    page.locator('input[name="smooth"]').fill("0.6")
    expect(page).to_have_url(re.compile(r"smooth=0\.6"))
    page.reload()  # the URL alone restores the view
    expect(loss).to_have_attribute("data-points", "50")
    layout = page.evaluate(
        """key => { const el = document.querySelector(`figure[data-key="${key}"] .plot`);
                    return [el.layout.yaxis.type, el.layout.xaxis.type, el.data.length]; }""",
        "train/loss",
    )
    assert layout == ["log", "date", 2]  # raw and smoothed trace


def test_long_text_wraps_and_zoom_fetches_full_detail(ui_lab: Lab, page: Page) -> None:
    long = "x" * 400
    capture = {"command": ["python", "train.py", "--data", "/" + "d" * 300], "git_remote": long}
    run = make_run(
        ui_lab,
        project_name(),
        "n" * 400,
        config={"path": long, "nested": {"deeper": {"key" * 50: long}}},
        tags=["t" * 150],
        points=0,
        status=None,
        capture=capture,
    )
    steps = list(range(20_000))
    log(
        ui_lab,
        run.id,
        {"train/loss": (steps, [float(s % 97) for s in steps]), "k" * 200: ([0], [1.0])},
    )
    page.goto(f"/r/{run.id}")
    loss = page.locator(chart(page, "train/loss"))
    expect(loss).to_have_attribute("data-last-step", "19999")
    assert int(loss.get_attribute("data-points") or 0) <= 1000  # downsampled on the server
    # No horizontal scrolling at 1280 px, however long the user's strings are.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Zooming into steps 100-299 fetches that range at full resolution.
    page.evaluate(
        """() => Plotly.relayout(document.querySelector('figure[data-key="train/loss"] .plot'),
                                 {"xaxis.range": [100, 299]})"""
    )
    expect(loss).to_have_attribute("data-points", "200")


def test_a_chart_gains_points_while_the_run_logs(ui_lab: Lab, page: Page) -> None:
    run = make_run(ui_lab, project_name(), "live", points=20, status=None)
    page.goto(f"/r/{run.id}")
    loss = page.locator(chart(page, "train/loss"))
    expect(loss).to_have_attribute("data-last-step", "19")
    # Record in the page when each step shows up; the clocks are the same machine's.
    page.evaluate(
        """() => { window.seenAt = {};
           const fig = document.querySelector('figure[data-key="train/loss"]');
           new MutationObserver(() => { window.seenAt[fig.dataset.lastStep] ??= Date.now(); })
             .observe(fig, { attributes: true, attributeFilter: ["data-last-step"] }); }"""
    )
    logged: dict[int, float] = {}

    def train() -> None:
        for step in range(20, 40):
            steps, values = curve(1, start=step)
            log(ui_lab, run.id, {"train/loss": (steps, values)})
            logged[step] = time.time() * 1000
            time.sleep(0.1)

    worker = threading.Thread(target=train)
    worker.start()
    worker.join(timeout=30)
    expect(loss).to_have_attribute("data-last-step", "39", timeout=LIVE_WAIT_MS)
    seen = page.evaluate("window.seenAt")
    latencies = [seen[str(s)] - logged[s] for s in logged if str(s) in seen]
    print(
        f"\nlive latency log_batch -> point drawn in the browser over {len(latencies)} batches: "
        f"median {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms"
    )
    assert int(loss.get_attribute("data-points") or 0) == 40


def test_a_hidden_tab_lets_go_of_the_stream_and_catches_up(ui_lab: Lab, page: Page) -> None:
    run = make_run(ui_lab, project_name(), "hidden", points=10, status=None)
    page.goto(f"/r/{run.id}")
    loss = page.locator(chart(page, "train/loss"))
    expect(loss).to_have_attribute("data-last-step", "9")
    set_hidden = """hidden => {
        Object.defineProperty(document, "hidden", { value: hidden, configurable: true });
        document.dispatchEvent(new Event("visibilitychange")); }"""
    page.evaluate(set_hidden, True)
    log(ui_lab, run.id, {"train/loss": curve(5, start=10)})
    page.wait_for_timeout(500)  # long enough for a live stream to have drawn it
    expect(loss).to_have_attribute("data-last-step", "9")
    page.evaluate(set_hidden, False)
    expect(loss).to_have_attribute("data-last-step", "14", timeout=LIVE_WAIT_MS)
    assert loss.get_attribute("data-points") == "15"


def test_compare_two_runs(ui_lab: Lab, page: Page) -> None:
    project = project_name()
    a = make_run(ui_lab, project, "alpha", config={"lr": 0.1, "depth": 50})
    b = make_run(ui_lab, project, "beta", config={"lr": 0.2, "depth": 50}, scale=2.0)
    page.goto(f"/p/{project}")
    compare = page.get_by_role("button", name=re.compile("Compare selected"))
    expect(compare).to_be_disabled()
    page.get_by_label("Select alpha").check()
    page.get_by_label("Select beta").check()
    expect(page).to_have_url(re.compile(r"sel="))
    compare.click()
    expect(page).to_have_url(re.compile(r"/compare\?run=\w+&run=\w+"))
    assert {a.id, b.id} <= set(re.findall(r"run=(\w+)", page.url))
    expect(page.locator("tr.differs th")).to_have_text([re.compile("lr")])
    loss = page.locator(chart(page, "train/loss"))
    expect(loss).to_have_attribute("data-points", "100")
    traces = page.evaluate(
        """() => document.querySelector('figure[data-key="train/loss"] .plot').data.length"""
    )
    assert traces == 2


def test_a_run_turns_finished_without_reloading(ui_lab: Lab, page: Page) -> None:
    project = project_name()
    run = make_run(ui_lab, project, "about-to-end", status=None)
    page.goto(f"/p/{project}")
    page.evaluate("window.notReloaded = true")
    badge = page.locator(f'tr[data-run="{run.id}"] [data-role="badge"]')
    expect(badge).to_have_text("running")
    ui_lab.tracking.finish_run(USER, run.id, "finished")
    expect(badge).to_have_text("finished", timeout=LIVE_WAIT_MS)
    assert page.evaluate("window.notReloaded") is True

    other = make_run(ui_lab, project, "crashes", status=None)
    page.goto(f"/r/{other.id}")
    page.evaluate("window.notReloaded = true")
    ui_lab.tracking.finish_run(USER, other.id, "crashed", reason="lost heartbeat for 5m")
    expect(page.locator('[data-role="status"]')).to_have_text("crashed", timeout=LIVE_WAIT_MS)
    expect(page.locator("pre.reason")).to_have_text("lost heartbeat for 5m")
    assert page.evaluate("window.notReloaded") is True


def test_an_html_run_name_is_shown_as_text(ui_lab: Lab, page: Page) -> None:
    project = project_name()
    run = make_run(ui_lab, project, XSS, tags=["<b>tag</b>"])
    other = make_run(ui_lab, project, "plain")
    page.goto(f"/p/{project}")
    expect(page.locator(f'tr[data-run="{run.id}"] td.name')).to_have_text(XSS)
    page.goto(f"/r/{run.id}")
    expect(page.locator("h1")).to_have_text(XSS)
    expect(page.locator(chart(page, "train/loss"))).to_have_attribute("data-points", "50")
    page.goto(f"/compare?run={run.id}&run={other.id}")
    expect(page.locator("ul.run-legend")).to_contain_text(XSS)
    expect(page.locator(chart(page, "train/loss"))).to_have_attribute("data-points", "100")
    # The page fixture fails the test on any dialog; no inline script was injected either.
    assert page.locator("script:not([src]):not([type])").count() == 0


def test_keyboard_reaches_a_run(ui_lab: Lab, page: Page) -> None:
    project = project_name()
    run = make_run(ui_lab, project, "by-keyboard")
    page.goto(f"/p/{project}")
    page.get_by_label("Filter", exact=True).focus()
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "by-keyboard":
            break
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/r/{run.id}$"))


def test_charts_draw_on_a_run_page_with_an_incident(ui_lab: Lab, page: Page) -> None:
    # A NaN in train/loss opens a watchdog incident, whose window figure sits on the page.
    watch = {"rules": {"loss": {"metric": "train/loss", "nan": True}}}
    run = make_run(ui_lab, project_name(), "diverged", status=None, capture={"watch": watch})
    log(ui_lab, run.id, {"train/loss": ([50, 51], [2.0, float("nan")])})
    assert ui_lab.watchdog.incidents.list(run=run.id), "the NaN should have opened an incident"
    page.goto(f"/r/{run.id}")
    expect(page.locator("figure.incident-window")).to_have_count(1)
    expect(page.locator(chart(page, "train/loss"))).to_have_attribute("data-points", "52")
    expect(page.locator(chart(page, "val/acc"))).to_have_attribute("data-points", "50")
    expect(page.locator(f"{chart(page, 'val/acc')} .plot .main-svg").first).to_be_visible()


def test_the_run_page_opens_with_last_best_and_summary_per_metric(ui_lab: Lab, page: Page) -> None:
    project = project_name()
    run = make_run(ui_lab, project, "summed", status=None)
    # val/acc peaks at 0.9 at step 1 and ends at 0.5; the script reports 0.95 as its summary.
    log(ui_lab, run.id, {"val/acc": ([50, 51], [0.9, 0.5])})
    ui_lab.tracking.set_summary(run.id, {"val/acc": 0.95, "note": "ema weights"})
    ui_lab.tracking.finish_run(USER, run.id, "finished")
    page.goto(f"/r/{run.id}")
    table = page.locator('table[data-role="summary"]')
    # The summary comes before the charts.
    assert page.evaluate(
        """() => document.querySelector('table[data-role="summary"]')
                   .compareDocumentPosition(document.querySelector('figure.chart'))
                 === Node.DOCUMENT_POSITION_FOLLOWING"""
    )
    acc = table.locator('tr[data-key="val/acc"]')
    expect(acc.locator('[data-col="last"]')).to_have_text("0.5")
    expect(acc.locator('[data-col="best"]')).to_have_text("0.9 (max)")
    expect(acc.locator('[data-col="summary"]')).to_have_text("0.95")
    loss = table.locator('tr[data-key="train/loss"]')
    expect(loss.locator('[data-col="best"]')).to_contain_text("(min)")
    expect(page.locator("main")).to_contain_text("ema weights")
    # The runs table says which value it shows, and that "best" is the best logged.
    page.goto(f"/p/{project}?col=metrics.val/acc")
    cell = page.locator(f'tr[data-run="{run.id}"] td[data-col="metrics.val/acc"]')
    expect(cell.locator('[data-role="value"]')).to_have_attribute("data-kind", "summary")
    expect(cell.locator('[data-role="best"]')).to_have_text("best 0.9")
    expect(cell.locator('[data-role="best"]')).to_have_attribute("title", "best value logged (max)")


def test_a_running_run_shows_its_time_since_start(ui_lab: Lab, page: Page) -> None:
    project = project_name()
    run = make_run(ui_lab, project, "two-hours-in", status=None)
    started = time.time() - 2 * 3600 - 5 * 60
    ui_lab.store.update_run(run.id, {"created_at": started, "heartbeat_at": started})
    page.goto(f"/p/{project}")
    expect(page.locator(f'tr[data-run="{run.id}"] [data-role="duration"]')).to_have_text("2h 05m")
    page.goto(f"/r/{run.id}")
    expect(page.locator('[data-role="duration"]')).to_have_text("2h 05m")
    expect(page.locator("main")).to_contain_text("running for 2h 05m")


def test_system_metrics_are_drawn_against_time_since_start(ui_lab: Lab, page: Page) -> None:
    run = make_run(ui_lab, project_name(), "sys", status=None)
    started = time.time() - 600
    ui_lab.store.update_run(run.id, {"created_at": started})
    # The SDK's system sampler logs by the clock: its steps are epoch seconds.
    times = [started + 10 * i for i in range(61)]
    ui_lab.tracking.log_batch(
        run.id,
        10_000,
        {"sys/gpu_util": {"steps": [int(t) for t in times], "times": times, "values": [80.0] * 61}},
    )
    page.goto(f"/r/{run.id}")
    gpu = page.locator(chart(page, "sys/gpu_util"))
    expect(gpu).to_have_attribute("data-points", "61")
    axis, xs = page.evaluate(
        """() => { const el = document.querySelector('figure[data-key="sys/gpu_util"] .plot');
                   return [el.layout.xaxis, el.data[0].x]; }"""
    )
    assert axis["title"]["text"] == "time since start (min)"
    assert axis["type"] == "linear"
    assert xs[0] == pytest.approx(0, abs=0.01) and xs[-1] == pytest.approx(10, abs=0.01)
    # Training metrics keep their step axis.
    loss_axis = page.evaluate(
        """() => document.querySelector('figure[data-key="train/loss"] .plot')
                   .layout.xaxis.title.text"""
    )
    assert loss_axis == "step"


def test_an_incident_window_shows_points_axes_and_its_inf_trigger(ui_lab: Lab, page: Page) -> None:
    watch = {"rules": {"loss": {"metric": "train/loss", "nan": True}}}
    run = make_run(ui_lab, project_name(), "blows-up", status=None, capture={"watch": watch})
    log(ui_lab, run.id, {"train/loss": ([50, 51, 52, 53], [0.5, 0.7, 2.0, float("inf")])})
    page.goto(f"/r/{run.id}")
    window = page.locator("figure.incident-window")
    expect(window).to_have_count(1)
    expect(window.locator("circle.point")).to_have_count(3)
    mark = window.locator("g.mark")
    expect(mark).to_have_attribute("data-word", "+inf")
    expect(mark).to_have_class(re.compile("trigger"))
    expect(window.locator("figcaption")).to_contain_text("trigger: step 53: +inf")
    expect(window.locator('[data-role="y-max"]')).to_have_text("2")
    expect(window.locator('[data-role="y-min"]')).to_have_text("0.5")
    expect(window.locator('[data-role="x-min"]')).to_have_text("50")
    expect(window.locator('[data-role="x-max"]')).to_have_text("53 step")
    assert "nan" not in (window.text_content() or "").lower()
    expect(page.locator(chart(page, "train/loss"))).to_have_attribute("data-points", "54")


def test_api_docs_load_with_no_network_and_no_inline_script(page: Page) -> None:
    # Anything not served by the loopback server is refused, as on an offline machine.
    outside: list[str] = []

    def only_loopback(route: Route) -> None:
        if route.request.url.startswith("http://127.0.0.1"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)

    # A strict policy: a page that needs an inline script or a CDN would not start.
    def strict(route: Route) -> None:
        answer = route.fetch()
        csp = {"content-security-policy": "script-src 'self'; style-src 'self'"}
        route.fulfill(response=answer, headers={**answer.headers, **csp})

    page.route("**/docs", strict)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .information-container")).to_contain_text("lablink")
    expect(page.locator(".opblock").first).to_be_visible()
    assert outside == []
    assert page.request.get("/favicon.ico").status == 200


@pytest.mark.parametrize("width", [1280, 1440])
def test_the_runs_table_fits_a_laptop_with_its_name_in_view(
    ui_lab: Lab, page: Page, width: int
) -> None:
    project = project_name()
    config = {f"a_long_param_name_{i}": f"value-{i}-" * 3 for i in range(14)}
    run = make_run(ui_lab, project, "a-rather-long-run-name-for-the-table", config=config)
    page.set_viewport_size({"width": width, "height": 900})
    cols = "&".join(f"col=params.a_long_param_name_{i}" for i in range(14))
    page.goto(f"/p/{project}?{cols}&col=metrics.val/acc&col=metrics.train/loss")
    row = page.locator(f'tr[data-run="{run.id}"]')
    # The chosen metrics come first, right after the name, and are on screen.
    headers = page.locator("table.runs thead th").all_inner_texts()
    assert [h.replace("\n", "") for h in headers[3:5]] == ["metrics.val/acc", "metrics.train/loss"]
    for col in ("metrics.val/acc", "metrics.train/loss"):
        box = row.locator(f'td[data-col="{col}"]').bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
    # The table uses the window's width, not a centred column.
    wrap = page.locator(".table-wrap").bounding_box()
    assert wrap is not None and wrap["width"] >= width - 60
    # The user column shows the name, the address on hover.
    user = row.locator("td.user")
    expect(user).to_have_text("tester")
    expect(user).to_have_attribute("title", USER)
    # Scrolled sideways (many params overflow), the run's name stays at the left edge.
    assert page.evaluate("document.querySelector('.table-wrap').scrollLeft = 10000") > 0
    assert page.evaluate("document.querySelector('.table-wrap').scrollLeft") > 0
    name = row.locator("td.name").bounding_box()
    assert name is not None and abs(name["x"] - wrap["x"]) <= 2


def test_charts_fill_the_width_and_follow_a_resize(ui_lab: Lab, page: Page) -> None:
    run = make_run(ui_lab, project_name(), "wide", status=None)
    page.goto(f"/r/{run.id}")
    loss = page.locator(chart(page, "train/loss"))
    expect(loss).to_have_attribute("data-points", "50")
    svg = loss.locator(".main-svg").first
    # train/ has one chart: alone in its group, it spreads over the whole width.
    alone = loss.bounding_box()
    assert alone is not None and alone["width"] > 1100
    log(ui_lab, run.id, {"train/acc": curve(5)})
    page.reload()
    expect(loss).to_have_attribute("data-points", "50")
    two = loss.bounding_box()
    assert two is not None and 560 < two["width"] < 700  # two per row across 1280 px
    page.get_by_label("Per row").select_option("1")
    expect(page).to_have_url(re.compile(r"per_row=1"))
    page.wait_for_function(
        """() => document.querySelector('figure[data-key="train/loss"] .main-svg')
                   .getBoundingClientRect().width > 1100"""
    )
    # Dragging the corner makes the plot box taller; the drawing follows it.
    page.evaluate(
        """() => { document.querySelector('figure[data-key="train/loss"] .plot')
                     .style.height = '520px'; }"""
    )
    page.wait_for_function(
        """() => document.querySelector('figure[data-key="train/loss"] .main-svg')
                   .getBoundingClientRect().height === 520"""
    )
    assert svg.bounding_box() is not None
    page.reload()
    expect(page.get_by_label("Per row")).to_have_value("1")


def test_compare_charts_have_a_legend_naming_each_run(ui_lab: Lab, page: Page) -> None:
    project = project_name()
    a = make_run(ui_lab, project, "alpha")
    b = make_run(ui_lab, project, "beta", scale=2.0)
    page.goto(f"/compare?run={a.id}&run={b.id}&smooth=0.5")
    loss = page.locator(chart(page, "train/loss"))
    expect(loss).to_have_attribute("data-points", "100")
    expect(loss.locator(".legend .legendtext")).to_have_text(["alpha", "beta"])
    # A single run's page needs no legend.
    page.goto(f"/r/{a.id}")
    expect(page.locator(chart(page, "train/loss"))).to_have_attribute("data-points", "50")
    expect(page.locator(f"{chart(page, 'train/loss')} .legend .legendtext")).to_have_count(0)


def test_compare_groups_seeds_into_bands_and_a_table(ui_lab: Lab, page: Page) -> None:
    project = project_name()
    runs = [
        make_run(ui_lab, project, f"lr{lr}-s{seed}", config={"lr": lr, "seed": seed}, scale=s)
        for lr, seed, s in [(0.1, 1, 1.0), (0.1, 2, 1.2), (0.2, 1, 2.0), (0.2, 2, 2.4)]
    ]
    query = "&".join(f"run={r.id}" for r in runs)
    page.goto(f"/compare?{query}")
    page.get_by_label("Group runs by").select_option("seed")
    page.get_by_role("button", name="Group").click()
    expect(page).to_have_url(re.compile(r"group=seed"))
    loss = page.locator(chart(page, "train/loss"))
    expect(loss).to_have_attribute("data-points", "200")
    expect(loss.locator(".legend .legendtext")).to_have_text(["lr=0.1 (2 runs)", "lr=0.2 (2 runs)"])
    fills = page.evaluate(
        """() => document.querySelector('figure[data-key="train/loss"] .plot').data
                   .filter(t => t.fill === "tonexty").length"""
    )
    assert fills == 2  # one band per group
    # At step 0 the group lr=0.1 has losses 1.0 and 1.2: mean 1.1, std 0.1.
    table = page.locator('table[data-role="group-table"]')
    expect(table.locator('tr[data-key="train/loss"] td').first).to_contain_text("±")
    page.get_by_label("Band").select_option("minmax")
    page.get_by_role("button", name="Group").click()
    expect(page).to_have_url(re.compile(r"band=minmax"))
    expect(table.locator('tr[data-key="train/loss"] td').first).to_contain_text("\u2013")
    expect(loss).to_have_attribute("data-points", "200")


def test_params_against_a_metric_over_a_project(ui_lab: Lab, page: Page) -> None:
    project = project_name()
    for i, (lr, opt) in enumerate([(0.1, "sgd"), (0.01, "adam"), (0.001, "adam")]):
        make_run(ui_lab, project, f"r{i}", config={"lr": lr, "opt": opt, "seed": 1}, scale=1 + i)
    page.goto(f"/p/{project}")
    page.get_by_role("link", name="Params vs metric").click()
    expect(page).to_have_url(re.compile(f"/p/{project}/params$"))
    expect(page.get_by_label("Metric")).to_have_value("val/acc")
    expect(page.locator("#parcoords .main-svg").first).to_be_visible()
    dims = page.evaluate(
        "() => document.getElementById('parcoords').data[0].dimensions.map(d => d.label)"
    )
    assert dims == ["lr", "opt", "val/acc"]  # seed is the same everywhere: no axis
    page.get_by_label(re.compile("Scatter of")).select_option("opt")
    page.wait_for_function(
        "() => document.getElementById('scatter').layout.xaxis.title.text === 'opt'"
    )
    xs = page.evaluate("() => document.getElementById('scatter').data[0].x")
    assert sorted(xs) == ["adam", "adam", "sgd"]
