"""What a learner sees, in a real browser: every student notebook run in the learner's JupyterLab.

The test makes a work folder (as `make lab` does) in a temporary directory, starts JupyterLab on
it with the learner's configuration (binder/learner/) on a free loopback port, and drives
Debian's Chromium (/usr/bin/chromium) with Playwright. For every notebook it runs Run All and
checks what is on the screen: rendered maths (MathJax), tables and figures, no red stderr box
other than the check's own friendly message. Then it answers 01's exercise wrongly and rightly,
draws a digit on 10's canvas, and opens a feedback file and the class report made by the
grader.

The kernels are a learner's (not grading mode), reading the MNIST sample shipped with the course
(6,000 training and 1,000 test digits, as offline learners get), so the notebooks that train do
so in seconds and the whole test takes a few minutes on 2 cores.

Screenshots of every step go to build/browser-screenshots/ (git-ignored); a failure names it.
Needs: `pip install playwright` and Debian's `chromium` package (no browser download).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from course_utils import data

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "build" / "browser-screenshots"
STUDENT_NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

NOT_ATTEMPTED = "Not attempted yet"
#: The line a cell shows when it uses an exercise's function that is not written yet.
NOT_WRITTEN = "Not written yet"
RUN_TIMEOUT_S = 120

try:  # a missing browser fails loudly: this test is never skipped
    from playwright import sync_api as playwright_api
except ImportError:
    pytest.fail("the browser test needs Playwright: pip install playwright "
                "(.ci/run installs it)", pytrace=False)
if not CHROMIUM.exists():
    pytest.fail(f"the browser test needs Debian's chromium at {CHROMIUM}: "
                f"apt-get install -y chromium (.ci/run installs it)", pytrace=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _venv_bin() -> Path:
    return Path(sys.executable).parent


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A learner's JupyterLab on a fresh work folder; yields (base URL, token, work folder)."""
    home = tmp_path_factory.mktemp("learner")
    work = home / "work"
    subprocess.run([sys.executable, "-m", "course_utils.workspace", "--work", str(work)],
                   check=True, capture_output=True)
    port, token = _free_port(), "browser-test"
    # A learner's kernel (not grading mode: Run All must behave as it does for a learner),
    # reading the MNIST sample shipped with the course so the notebooks that train stay quick.
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(ROOT / "binder" / "learner"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "MNIST_PATH": str(data.sample_path()),
           "PATH": f"{_venv_bin()}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    for name in ("JUPYTER_DATA_DIR", "NBGRADER_EXECUTION"):
        env.pop(name, None)
    log = (home / "lab.log").open("w")
    server = subprocess.Popen(
        [str(_venv_bin() / "jupyter"), "lab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}", f"--notebook-dir={work}",
         "--LabApp.default_url=/lab/tree/00_start_here.md",
         "--LabApp.expose_app_in_browser=True",  # lets the test call JupyterLab's commands
         "--allow-root"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                assert server.poll() is None, (home / "lab.log").read_text()
                assert time.monotonic() < deadline, "JupyterLab did not start in 2 minutes"
                time.sleep(1)
        yield base, token, work
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                          args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    shutil.rmtree(SCREENSHOTS / request.node.name, ignore_errors=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def shot(page, test: str, name: str) -> Path:
    """Save a full-page screenshot of the current state; return its path."""
    path = SCREENSHOTS / test / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


# JavaScript run in the page: JupyterLab's current notebook as the learner sees it.
NOTEBOOK_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets.map((cell, index) => {
    const model = cell.model;
    const outputs = [];
    if (model.type === 'code') {
      for (let i = 0; i < model.outputs.length; i++) {
        const out = model.outputs.get(i).toJSON();
        let text = '';
        if (out.output_type === 'stream') text = [].concat(out.text).join('');
        else if (out.output_type === 'error') text = out.traceback.join('\\n');
        else if (out.data && out.data['text/plain']) text = [].concat(out.data['text/plain']).join('');
        outputs.push({type: out.output_type, name: out.name || '', text: text,
                      mimes: Object.keys(out.data || {})});
      }
    }
    const node = cell.node;
    return {
      index: index, type: model.type, source: model.sharedModel.getSource(),
      count: model.type === 'code' ? model.executionCount : null,
      grade_id: ((model.getMetadata('nbgrader') || {}).grade_id) || '',
      outputs: outputs,
      stderr_boxes: node.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').length,
      stderr_text: Array.from(node.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
        .map(n => n.textContent).join('\\n'),
      images: Array.from(node.querySelectorAll('.jp-OutputArea-output img'))
        .filter(img => img.complete && img.naturalWidth > 0).length,
      maths: node.querySelectorAll('mjx-container').length,
      tables: node.querySelectorAll('.jp-RenderedMarkdown table, .jp-RenderedHTMLCommon table').length,
      running: (node.querySelector('.jp-InputPrompt') || {}).innerText === '[*]:',
    };
  });
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return {cells: cells, kernel: kernel ? kernel.status : 'none'};
}"""


def open_notebook(page, name: str) -> None:
    """Open a notebook of the work folder, as a double-click in the file browser does."""
    page.evaluate("(name) => window.jupyterapp.commands.execute('docmanager:open', {path: name})",
                  name)
    page.wait_for_function(
        """(name) => window.jupyterapp && window.jupyterapp.shell.currentWidget &&
             window.jupyterapp.shell.currentWidget.context &&
             window.jupyterapp.shell.currentWidget.context.path === name &&
             window.jupyterapp.shell.currentWidget.sessionContext.session &&
             window.jupyterapp.shell.currentWidget.sessionContext.session.kernel &&
             window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'
        """, arg=name, timeout=90_000)


def command(page, name: str, args: dict | None = None) -> None:
    page.evaluate("([name, args]) => window.jupyterapp.commands.execute(name, args)",
                  [name, args or {}])


def wait_until_idle(page, timeout_s: float = RUN_TIMEOUT_S) -> dict:
    """Wait until no cell is queued or running and the kernel is idle; return the state."""
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while True:
        state = page.evaluate(NOTEBOOK_STATE)
        busy = state["kernel"] != "idle" or any(cell["running"] for cell in state["cells"])
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1.0:  # idle for a moment: Run All is done
            return state
        assert time.monotonic() < deadline, f"still running after {timeout_s} s"
        time.sleep(0.5)


def run_all(page) -> dict:
    command(page, "notebook:run-all-cells")
    time.sleep(1)
    return wait_until_idle(page)


def text_of(cell: dict) -> str:
    return "\n".join(output["text"] for output in cell["outputs"])


def scroll_to_cell(page, index: int) -> None:
    """Bring cell ``index`` to the top of the notebook, as a learner scrolling there would.

    JupyterLab 4 renders only the cells near the view, so the DOM's n-th cell is not the
    notebook's: the notebook's own ``scrollToItem`` finds it; then the cells there are drawn.
    """
    page.evaluate("""(index) => {
      const notebook = window.jupyterapp.shell.currentWidget.content;
      notebook.activeCellIndex = index;
      return notebook.scrollToItem(index, 'start');
    }""", index)
    page.wait_for_timeout(1000)


def first_exercise_check(state: dict) -> int | None:
    for cell in state["cells"]:
        if cell["grade_id"].startswith("test_"):
            return cell["index"]
    return None


def check_run_all(name: str, state: dict) -> None:
    """What a learner sees after Run All on an untouched student notebook."""
    cells = state["cells"]
    code = [c for c in cells if c["type"] == "code"]
    for cell in code:
        assert "Traceback (most recent call last)" not in cell["stderr_text"], \
            f"{name} cell {cell['index']} shows a raw traceback:\n{cell['stderr_text']}"
        for output in cell["outputs"]:
            if output["type"] == "stream":
                assert output["name"] != "stderr", \
                    f"{name} cell {cell['index']} writes to stderr: {output['text'][:300]}"
    # Red boxes are the friendly messages only: an exercise check saying "not attempted", or
    # a cell that needs an unwritten exercise saying so in one line.
    for cell in code:
        if cell["stderr_boxes"]:
            friendly = (cell["grade_id"].startswith("test_") and
                        NOT_ATTEMPTED in cell["stderr_text"]) or (
                NOT_WRITTEN in cell["stderr_text"]
                and len(cell["stderr_text"].strip().splitlines()) == 1)
            assert friendly, \
                f"{name} cell {cell['index']} shows a red box:\n{cell['stderr_text'][:500]}"
    # Run All goes on past every unfinished exercise: every cell ran, every check says so.
    ran = [c for c in code if c["count"] is not None]
    assert len(ran) == len(code), (
        f"{name}: {len(code) - len(ran)} cells did not run (Run All stopped at cell "
        f"{min(c['index'] for c in code if c['count'] is None)})")
    for cell in code:
        if cell["grade_id"].startswith("test_"):
            assert NOT_ATTEMPTED in cell["stderr_text"] + text_of(cell), \
                f"{name}: exercise check {cell['grade_id']} does not say {NOT_ATTEMPTED!r}"
    # It renders: maths in Markdown typeset by MathJax, Markdown tables, figures as images.
    markdown = [c for c in cells if c["type"] == "markdown"]
    if any(re.search(r"\$[^$]+\$", c["source"]) for c in markdown):
        assert sum(c["maths"] for c in markdown) > 0, f"{name}: maths not rendered by MathJax"
    if any("|---" in c["source"] for c in markdown):
        assert sum(c["tables"] for c in markdown) > 0, f"{name}: Markdown table not rendered"
    for cell in ran:
        if "image/png" in sum((o["mimes"] for o in cell["outputs"]), []):
            assert cell["images"] > 0, f"{name} cell {cell['index']}: figure not shown"
    assert any(c["images"] for c in ran) or not any(
        "plt.show()" in c["source"] for c in ran), f"{name}: no figure on screen"


def test_every_student_notebook_runs_in_the_learners_lab(lab, page, request):
    test = request.node.name
    try:
        base, token, _ = lab
        page.goto(f"{base}/?token={token}")
        start = page.locator(".jp-MarkdownViewer .jp-RenderedMarkdown h1").first
        start.wait_for(timeout=90_000)
        assert "Start here" in start.inner_text()
        assert page.locator(".jp-RenderedMarkdown table").count() == 1, "the course map"
        assert page.locator("text=Create Assignment").count() == 0
        assert page.locator(".jp-Notification-Toast, .Toastify__toast").count() == 0, \
            "a pop-up (news?) on the start page"
        shot(page, test, "00_start_page")
        timings = {}
        for name in STUDENT_NOTEBOOKS:
            start_s = time.monotonic()
            open_notebook(page, name)
            state = run_all(page)
            timings[name] = round(time.monotonic() - start_s, 1)
            first = first_exercise_check(state)
            if first is not None:  # show the first exercise's message, not the notebook's end
                scroll_to_cell(page, first)
            shot(page, test, Path(name).stem)
            (SCREENSHOTS / test / "seconds_to_open_and_run.json").write_text(
                json.dumps(timings, indent=1))
            check_run_all(name, state)
            if name.startswith("01_"):
                answer_neuron(page, test)
            if name.startswith("10_"):
                draw_a_digit(page, test)
            close_notebook(page)  # one kernel at a time, as a learner should
    except Exception as error:
        path = shot(page, test, "failure")
        raise AssertionError(f"{error}\n(screenshots in {path.parent})") from error


def close_notebook(page) -> None:
    """Save the notebook and shut its kernel down (so leaving the page asks nothing)."""
    page.evaluate("""async () => {
      const panel = window.jupyterapp.shell.currentWidget;
      await panel.context.save();
      await panel.sessionContext.shutdown();
      panel.dispose();
    }""")


def set_cell_source(page, index: int, source: str) -> None:
    """Replace a cell's code as a learner would: click in it, select all, paste."""
    editor = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content")
    editor.scroll_into_view_if_needed()
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)


def run_cell_and_check(page, function_index: int) -> dict:
    """Run the function's cell and its check cell (Shift+Enter twice); return the state."""
    page.locator(".jp-Notebook .jp-Cell").nth(function_index).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    time.sleep(1)
    return wait_until_idle(page)


def answer_neuron(page, test: str) -> None:
    state = page.evaluate(NOTEBOOK_STATE)
    index = next(c["index"] for c in state["cells"] if c["grade_id"] == "neuron")
    check = index + 1
    assert state["cells"][check]["grade_id"] == "test_neuron"
    set_cell_source(page, index, "def neuron(inputs, weights, bias):\n"
                                 "    return np.dot(inputs, weights) + bias   # forgot ReLU\n")
    state = run_cell_and_check(page, index)
    shot(page, test, "01_wrong_answer")
    wrong = state["cells"][check]["stderr_text"]
    assert "\N{BALLOT X} Incorrect:" in wrong and "expected 0" in wrong, wrong
    assert "Traceback" not in wrong
    set_cell_source(page, index, "def neuron(inputs, weights, bias):\n"
                                 "    return np.maximum(0, np.dot(inputs, weights) + bias)\n")
    state = run_cell_and_check(page, index)
    shot(page, test, "01_right_answer")
    right = state["cells"][check]
    assert right["stderr_boxes"] == 0, right["stderr_text"]
    assert "\N{CHECK MARK}" in text_of(right), text_of(right)
    assert page.locator(".jp-Notebook .jp-Cell").nth(check).inner_text().count(
        "\N{CHECK MARK}") == 1


def draw_a_digit(page, test: str) -> None:
    state = page.evaluate(NOTEBOOK_STATE)
    pad = next(c["index"] for c in state["cells"] if "draw.DigitPad(" in c["source"])
    if state["cells"][pad]["count"] is None:  # Run All stopped above: run from the pad down
        page.evaluate("(i) => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = i; }",
                      pad - 1)
        command(page, "notebook:run-all-below")
        time.sleep(1)
        state = wait_until_idle(page)
    after = state["cells"][pad + 1]
    assert "the model reads the pad's digit as 7" in text_of(after), text_of(after)
    assert state["cells"][pad]["stderr_boxes"] == 0 and after["stderr_boxes"] == 0
    cell = page.locator(".jp-Notebook .jp-Cell").nth(pad)
    canvas = cell.locator("canvas").first
    canvas.scroll_into_view_if_needed()
    status = cell.locator(".widget-html-content").first
    # The sample 7, predicted by the next cell, is shown beside the canvas.
    page.wait_for_function("(el) => el.innerText.includes('reads your drawing')",
                           arg=status.element_handle(), timeout=30_000)
    cell.get_by_role("button", name="Clear").click()
    page.wait_for_function("(el) => el.innerText.includes('Draw a digit')",
                           arg=status.element_handle(), timeout=30_000)
    box = canvas.bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + box["height"] * 0.15)
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] * 0.85, steps=12)
    page.mouse.up()
    time.sleep(1)
    shot(page, test, "10_drawn")
    figure = cell.locator(".jp-OutputArea-output img").first
    old_figure = figure.get_attribute("src")   # the sample 7's figure, shown beside the pad
    cell.get_by_role("button", name="Predict").click()
    page.wait_for_function("(el) => el.innerText.includes('reads your drawing')",
                           arg=status.element_handle(), timeout=30_000)
    page.wait_for_function(
        """([el, old]) => Array.from(el.querySelectorAll('.jp-OutputArea-output img'))
                             .some(i => i.naturalWidth > 0 && i.src !== old)""",
        arg=[cell.element_handle(), old_figure], timeout=30_000)
    shot(page, test, "10_predicted")
    said = status.inner_text()
    assert re.search(r"reads your drawing as a \d", said), said


def test_feedback_html_shows_scores_code_and_message_but_no_hidden_tests(tmp_path, page,
                                                                         request):
    """One student with a wrong 01, graded by the course's grader; the feedback in a browser,
    then the run's class report."""
    master = nbformat.read(ROOT / "solutions" / "01_neurons.ipynb", as_version=4)
    student = nbformat.read(ROOT / "notebooks" / "01_neurons.ipynb", as_version=4)
    for cell in student.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "neuron":
            cell.source = ("def neuron(inputs, weights, bias):\n"
                           "    return np.dot(inputs, weights) + bias  # my answer, no ReLU\n")
    submissions = tmp_path / "submissions" / "student_a"
    submissions.mkdir(parents=True)
    nbformat.write(student, submissions / "01_neurons.ipynb")
    env = {**os.environ, "PATH": f"{_venv_bin()}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    done = subprocess.run([sys.executable, "-m", "course_grading",
                           str(tmp_path / "submissions"), "--output", str(tmp_path / "graded"),
                           "--quiet"], env=env, capture_output=True, text=True, timeout=240)
    feedback = tmp_path / "graded" / "feedback" / "student_a" / "01_neurons.html"
    assert feedback.is_file(), done.stdout + done.stderr
    page.goto(feedback.as_uri())
    page.wait_for_load_state("load")
    shot(page, request.node.name, "feedback")
    seen = page.inner_text("body")
    try:
        assert re.search(r"Score: \d+(\.\d+)? / \d+", seen) or "Score" in seen, seen[:500]
        assert "my answer, no ReLU" in seen, "the student's code"
        assert "Incorrect" in seen and "expected 0" in seen, "the failure message"
        assert "HIDDEN TESTS" not in seen
        hidden = []
        for cell in master.cells:
            source = cell.source
            if "### BEGIN HIDDEN TESTS" in source:
                before, rest = source.split("### BEGIN HIDDEN TESTS", 1)
                block, after = rest.split("### END HIDDEN TESTS", 1)
                # A visible check that the hidden part repeats reveals nothing.
                shown = {line.strip() for line in (before + after).splitlines()}
                hidden += [line.strip() for line in block.splitlines()
                           if len(line.strip()) > 12 and line.strip() not in shown]
        assert hidden, "01's master has hidden tests to look for"
        leaked = [line for line in hidden if line in seen]
        assert not leaked, f"hidden-test text in the feedback: {leaked}"
        # The class report of the same run: one self-contained page, its figures drawn.
        report = tmp_path / "graded" / "report.html"
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        shot(page, request.node.name, "class_report")
        assert page.locator("h1").inner_text() == "Class report"
        figures = page.locator("figure img")
        assert figures.count() >= 1
        assert all(figures.nth(i).evaluate("(img) => img.complete && img.naturalWidth > 0")
                   for i in range(figures.count())), "a figure of the report did not render"
        shown = page.inner_text("body")
        assert "test_neuron" in shown and "Incorrect" in shown, "the failure messages"
    except AssertionError as error:
        raise AssertionError(f"{error}\n(screenshots in {SCREENSHOTS / request.node.name})")
