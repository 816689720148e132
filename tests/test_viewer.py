"""`worldsim view` in a real headless browser (Debian's chromium + chromedriver, selenium from the test extra).

One tiny reconstructed run (48x48, 5 frames, a short reconstruction; a minute or two on 2 loaded cores) is
served on a free port; the page is driven like a person would (slider keys, typing, buttons) and the canvas is
read back as PNG. Screenshots of failed tests are kept in $WORLDSIM_TEST_ARTIFACTS (default
outputs/test-artifacts/viewer/). Skipped, saying why, without chromium, chromedriver or selenium.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401
except ImportError:
    selenium = None

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (scripts/setup.sh installs Debian's chromium via apt)"),
    pytest.mark.skipif(CHROMEDRIVER is None, reason="no chromedriver on PATH (scripts/setup.sh installs chromium-driver via apt)"),
    pytest.mark.skipif(selenium is None, reason="selenium is not installed (pip install -e '.[test]')"),
]

ARTIFACTS = Path(os.environ.get("WORLDSIM_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "outputs" / "test-artifacts")) / "viewer"
PROMPT = "A red ball rolls quickly from left to right"
TINY_CONFIG = """\
description: "viewer tests: tiny generate + reconstruct (+ the editor for edits, conformance for metrics)"
seed: 0
stages:
  - kind: parser
    name: rules
  - kind: generator
    name: procedural
    config: {num_frames: 5, width: 48, height: 48, fps: 8, gaussians_per_object: 150, background_spacing: 0.6, write_ply: false}
  - kind: reconstructor
    name: feature-4dgs
    config: {train: {iterations: 60}, pad: 4, stride: 3, eval_frames: 1, novel_yaws: [5.0]}
  - kind: editor
    name: feature-field
  - kind: scorer
    name: conformance
"""


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    from worldsim import pipeline
    from worldsim.config import load_config

    base = tmp_path_factory.mktemp("viewer")
    (base / "tiny.yaml").write_text(TINY_CONFIG)
    return pipeline.run_pipeline(PROMPT, config=load_config(str(base / "tiny.yaml")), seed=0, output_dir=base / "runs")


@pytest.fixture(scope="module")
def server(tiny_run):
    from worldsim.viewer.server import serving

    with serving(tiny_run) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--disable-gpu", "--allow-file-access-from-files"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))  # no Selenium Manager download
    driver.set_script_timeout(120)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, request):
    """The browser; a screenshot of the page is kept when the test fails."""
    failed = request.session.testsfailed
    yield browser
    if request.session.testsfailed > failed:  # the call phase's report is logged before teardown
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_")
        browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))
        (ARTIFACTS / f"{name}.message.txt").write_text(browser.find_element("id", "message").text)


# ------------------------------------------------------------------------------------------------ helpers


def wait(driver, cond: str = "V.ready && V.busy === 0", timeout: float = 240.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if driver.execute_script(f"const V = window.worldsimViewer; return !!(V && ({cond}));"):
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {cond}; page says: {driver.find_element('id', 'message').text!r}")


def open_viewer(driver, url: str) -> None:
    driver.get("about:blank")  # a URL differing only in its #fragment would not reload the page
    driver.get(url)
    wait(driver, "V.ready || V.error")
    wait(driver)
    assert driver.execute_script("return window.worldsimViewer.error") is None, driver.find_element("id", "message").text


def canvas(driver, element: str = "scene") -> np.ndarray:
    """The canvas as float RGB [H,W,3] in [0,1]."""
    import cv2

    url = driver.execute_script(f"return document.getElementById('{element}').toDataURL('image/png');")
    png = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
    return cv2.imdecode(png, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float64) / 255.0


def to_video_res(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Block-average a canvas rendered at an integer multiple of the video size down to that size."""
    s = img.shape[1] // width
    assert img.shape[0] == height * s and img.shape[1] == width * s, (img.shape, width, height)
    return img.reshape(height, s, width, s, -1).mean(axis=(1, 3))


def red(img: np.ndarray) -> np.ndarray:
    return (img[..., 0] > 0.4) & (img[..., 0] > img[..., 1] + 0.2) & (img[..., 0] > img[..., 2] + 0.2)


def magenta(img: np.ndarray) -> np.ndarray:
    return (img[..., 0] > 0.5) & (img[..., 2] > 0.5) & (img[..., 1] < 0.5 * img[..., 0])


def gt_masks(run: Path) -> np.ndarray:
    from safetensors.numpy import load_file

    return load_file(str(run / "generator" / "labels.safetensors"))["masks"]  # [T,H,W] 0 background, k object k


def slider_to(driver, key: str) -> None:
    from selenium.webdriver.common.keys import Keys

    driver.find_element("id", "time").send_keys(getattr(Keys, key))
    wait(driver)


def type_command(driver, text: str, button: str) -> None:
    box = driver.find_element("id", "command")
    box.clear()
    box.send_keys(text)
    driver.find_element("id", button).click()
    time.sleep(0.2)
    wait(driver)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum()) / max(1, float((a | b).sum()))


# ------------------------------------------------------------------------------------------------ tests


def test_page_loads_and_draws_scene_and_video(page, server, tiny_run):
    open_viewer(page, server.url)
    img = canvas(page)
    assert img.std() > 0.05 and img.mean() > 0.05, "the scene canvas is blank"
    video = canvas(page, "video")
    assert video.std() > 0.05, "the video canvas is blank"
    V = page.execute_script("const V = window.worldsimViewer; return {frames: V.frames, version: V.version, n: V.scene.n};")
    assert V["frames"] == 5 and V["version"] == tiny_run.name
    assert "red ball" in page.find_element("id", "objects").text
    assert "conformance" in page.find_element("id", "metrics").text
    assert tiny_run.name in page.find_element("id", "history").text


def test_time_slider_moves_the_ball_in_the_commanded_direction(page, server, tiny_run):
    open_viewer(page, server.url)
    slider_to(page, "HOME")
    first = to_video_res(canvas(page), 48, 48)
    slider_to(page, "END")
    assert page.execute_script("return window.worldsimViewer.renderedFrame") == 4
    last = to_video_res(canvas(page), 48, 48)
    xs0, xs1 = np.nonzero(red(first))[1], np.nonzero(red(last))[1]
    assert xs0.size > 5 and xs1.size > 5, "no red ball pixels on the canvas"
    assert xs1.mean() > xs0.mean() + 5, f"the ball did not move right: x {xs0.mean():.1f} -> {xs1.mean():.1f}"
    # The scene is frame-accurate against the run's video: same place in the first and last frame.
    masks = gt_masks(tiny_run)
    for t, img in ((0, first), (4, last)):
        gx = np.nonzero(masks[t] == 1)[1].mean()
        assert abs(np.nonzero(red(img))[1].mean() - gx) < 3.0, f"frame {t}: ball off the video's by > 3 px"


def test_query_highlights_the_object_selected_by_the_editor(page, server, tiny_run):
    open_viewer(page, server.url)
    type_command(page, "the ball", "highlight")
    assert page.find_element("id", "message").text.startswith("highlighted "), page.find_element("id", "message").text
    masks = gt_masks(tiny_run)
    for key, t in (("HOME", 0), ("END", 4)):
        slider_to(page, key)
        hl = to_video_res(magenta(canvas(page)).astype(np.float64)[..., None], 48, 48)[..., 0] >= 0.5
        assert iou(hl, masks[t] == 1) >= 0.7, f"frame {t}: IoU {iou(hl, masks[t] == 1):.2f} with the ground-truth mask"
    # the same Gaussians the editor's selection code picks
    from worldsim.viewer import data

    mask, info = data.select(data.Family.of(tiny_run).get(tiny_run.name), "the ball")
    assert page.execute_script("return Array.from(window.worldsimViewer.highlight).reduce((a, b) => a + b, 0)") == int(mask.sum())


def test_invalid_edit_shows_the_cli_line_and_writes_nothing(page, server, tiny_run, capsys):
    from worldsim.cli import main

    open_viewer(page, server.url)
    before = sorted(p.name for p in tiny_run.parent.iterdir())
    for text in ("make the ball blurple", "make the car blue"):
        type_command(page, text, "edit")
        shown = page.find_element("id", "message").text
        assert main(["edit", str(tiny_run), text]) == 2
        cli_line = capsys.readouterr().err.strip()
        assert shown == cli_line and cli_line.startswith("worldsim: error: ") and "\n" not in cli_line
    assert sorted(p.name for p in tiny_run.parent.iterdir()) == before
    type_command(page, "the car", "highlight")
    assert page.find_element("id", "message").text == "worldsim: error: no 'car' in this scene; objects: red ball"


def test_edit_in_the_page_writes_a_version_and_recolours_the_ball(page, server, tiny_run):
    open_viewer(page, server.url + f"?version={tiny_run.name}#t=2")
    assert page.execute_script("return window.worldsimViewer.frame") == 2
    inside = gt_masks(tiny_run)[2] == 1
    before = to_video_res(canvas(page), 48, 48)[inside].mean(axis=0)
    type_command(page, "make the ball blue", "edit")
    message = page.find_element("id", "message").text
    assert message.startswith("new version "), message
    new = page.execute_script("return window.worldsimViewer.version")
    assert new != tiny_run.name
    manifest = json.loads((tiny_run.parent / new / "run.json").read_text())
    assert manifest["parent"] == tiny_run.name and manifest["edits"] == ["make the ball blue"]
    assert page.execute_script("return window.worldsimViewer.frame") == 2
    after = to_video_res(canvas(page), 48, 48)[inside].mean(axis=0)
    assert after[2] > before[2] + 0.15 and after[0] < before[0] - 0.15, f"colour inside the ball {before} -> {after}"
    assert new in page.find_element("id", "versions").text
    assert "blue ball" in page.find_element("id", "objects").text


def test_export_opens_from_file_and_scrubs_time(page, tiny_run, tmp_path, capsys):
    from worldsim.cli import main

    out = tmp_path / "viewer.html"
    assert main(["view", str(tiny_run), "--export", str(out)]) == 0
    assert str(out.resolve()) in capsys.readouterr().out
    html = out.read_text()
    assert "http://" not in html.split('id="ws-data"')[0] and "/static/" not in html  # nothing fetched from a server
    open_viewer(page, out.resolve().as_uri() + "#t=3")
    assert page.execute_script("return [window.worldsimViewer.frame, window.worldsimViewer.renderedFrame]") == [3, 3]
    mid = canvas(page)
    assert mid.std() > 0.05
    slider_to(page, "HOME")
    first = canvas(page)
    slider_to(page, "END")
    last = canvas(page)
    assert np.abs(first - last).mean() > 0.002 and np.abs(first - mid).mean() > 0.002
    xs0, xs1 = np.nonzero(red(first))[1], np.nonzero(red(last))[1]
    assert xs1.mean() > xs0.mean()
    type_command(page, "the ball", "highlight")  # selections are embedded per object
    assert magenta(canvas(page)).sum() > 50
    page.get(out.resolve().as_uri() + "?t=1")
    wait(page)
    assert page.execute_script("return window.worldsimViewer.frame") == 1
