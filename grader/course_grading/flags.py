"""Point an instructor at submitted code that tampers with its surroundings instead of solving.

Why it exists: marks are decided outside the student's kernel (see the grading command), so
tampering cannot buy points; but an instructor still wants to know who tried, and a student
who calls the course's own reference implementation (``data.one_hot_labels`` is the answer
to an exercise) has not done the exercise. This module reads the code a student wrote (every
code cell that is not one of the master's own) without running it, and lists what it found
as rows of ``flags.csv``. A flag never changes a score: the instructor decides.

What is flagged: assigning to (or ``setattr`` on) an attribute of an imported module; touching
``sys.modules``, the builtins or the IPython shell (``get_ipython``, magics, exception hooks,
input transformers); calling the course's reference implementations or its checks; starting
processes or opening network connections; ending the kernel. Cells with IPython magics are
read after IPython's own translation to Python; a cell that is not valid Python is skipped
(it fails when it runs).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: The course's reference implementations: each is the answer to one exercise.
REFERENCE_FUNCTIONS = frozenset({
    "one_hot_labels", "normalize_images", "build_reference_model", "load_trained_model",
})
#: The course's modules whose functions a solution has no business replacing or calling.
COURSE_MODULES = frozenset({"checks", "data", "models", "plots", "setup", "exercises",
                            "course_utils"})
#: Modules that start processes or talk to the network.
PROCESS_OR_NETWORK = frozenset({"socket", "subprocess", "multiprocessing", "urllib", "http",
                                "requests", "ftplib", "smtplib", "asyncio", "pty", "ctypes"})
#: Attribute names that reach into the IPython shell or Python's error handling.
SHELL_HOOKS = frozenset({"set_custom_exc", "showtraceback", "input_transformers_cleanup",
                         "input_transformers_post", "ast_transformers", "excepthook",
                         "displayhook", "run_cell", "run_line_magic", "events",
                         "register_magic_function", "InteractiveTB", "showsyntaxerror"})
#: IPython magics a notebook uses innocently; any other magic is flagged by name.
HARMLESS_MAGICS = frozenset({"matplotlib", "time", "timeit", "who", "whos", "precision"})
#: Calls that start processes or end the kernel.
OS_CALLS = frozenset({"system", "popen", "fork", "forkpty", "execv", "execve", "execvp",
                      "spawnv", "spawnl", "_exit", "kill", "posix_spawn"})


@dataclass(frozen=True)
class Flag:
    """Something in a student's code that an instructor should look at: a row of ``flags.csv``."""

    student_id: str
    """The student's folder name, as submitted."""
    notebook: str
    """The notebook's file name, as submitted."""
    cell: str
    """Where: the cell's grade id when it is a solution cell, else ``cell N`` (1-based)."""
    finding: str
    """What was found, in one line, with the line number inside the cell."""


def _python_source(source: str) -> str:
    """The cell as Python, with IPython magics and ``!`` commands translated as IPython does."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython is always there with nbgrader
        return source
    return TransformerManager().transform_cell(source)


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every expression node
        return type(node).__name__


class _Reader(ast.NodeVisitor):
    """Collect findings in one cell, given the names that refer to imported modules."""

    def __init__(self, modules: set[str]) -> None:
        self.modules = modules
        self.findings: list[str] = []

    def _say(self, node: ast.AST, text: str) -> None:
        finding = f"line {getattr(node, 'lineno', '?')}: {text}"
        if finding not in self.findings:
            self.findings.append(finding)

    # imports ---------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_import(node, alias.name)
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        self._check_import(node, module)
        for alias in node.names:
            if alias.name in REFERENCE_FUNCTIONS:
                self._say(node, f"imports the course's reference implementation {alias.name}")
            if module in ("sys",) and alias.name == "modules":
                self._say(node, "touches sys.modules")
        self.generic_visit(node)

    def _check_import(self, node: ast.AST, module: str) -> None:
        top = module.split(".")[0]
        if top in PROCESS_OR_NETWORK:
            self._say(node, f"imports {module} (processes or network)")
        elif top in ("builtins", "__builtin__"):
            self._say(node, "imports builtins")
        elif top in ("IPython", "ipykernel"):
            self._say(node, f"imports {module} (the notebook's shell)")
        elif top == "importlib":
            self._say(node, f"imports {module} (reloading or replacing modules)")
        elif module.startswith("course_grading"):
            self._say(node, f"imports the grading side ({module})")

    # assignments -----------------------------------------------------------------------------
    def _check_target(self, node: ast.AST, target: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._check_target(node, element)
        elif isinstance(target, ast.Attribute) or (
                isinstance(target, ast.Subscript) and _root_name(target) in (
                    "sys", "builtins", "__builtins__")):
            # A subscript of a module (plt.rcParams[...]) is ordinary configuration; an
            # attribute of one (np.equal = ...) or sys.modules[...] replaces behaviour.
            root = _root_name(target)
            if root in self.modules or root in ("__builtins__",):
                self._say(node, f"assigns to {_dotted(target)} (changes an imported module)")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_target(node, target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_target(node, node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_target(node, node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._check_target(node, target)
        self.generic_visit(node)

    # names and attributes --------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in ("__builtins__", "get_ipython", "__import__"):
            self._say(node, f"uses {node.id}")
        if node.id in REFERENCE_FUNCTIONS:
            self._say(node, f"uses the course's reference implementation {node.id}")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = _dotted(node)
        root = _root_name(node)
        if node.attr == "modules" and root == "sys":
            self._say(node, "touches sys.modules")
        elif node.attr in SHELL_HOOKS:
            self._say(node, f"reaches into the shell or error handling ({dotted})")
        elif node.attr in REFERENCE_FUNCTIONS:
            self._say(node, f"uses the course's reference implementation {dotted}")
        elif root == "checks" or dotted.startswith("course_utils.checks"):
            self._say(node, f"uses the course's checks ({dotted})")
        elif root == "os" and node.attr in OS_CALLS:
            self._say(node, f"calls {dotted} (processes or ending the kernel)")
        elif root == "sys" and node.attr == "exit":
            self._say(node, "calls sys.exit (ends the cell)")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func)
        if name in ("get_ipython().run_line_magic", "get_ipython().run_cell_magic") and (
                node.args and isinstance(node.args[0], ast.Constant)):
            magic = str(node.args[0].value)
            if magic in HARMLESS_MAGICS:
                return  # `%matplotlib inline` and friends: nothing to look at
            self._say(node, f"runs the magic %{magic} (the notebook's shell)")
            return
        if name == "get_ipython().system" or name == "get_ipython().getoutput":
            self._say(node, "runs a shell command (!)")
            return
        if name in ("setattr", "delattr") and node.args:
            root = _root_name(node.args[0])
            if root in self.modules or name == "setattr" and _dotted(node.args[0]) in (
                    "__builtins__", "builtins"):
                self._say(node, f"calls {name} on {_dotted(node.args[0])} "
                                f"(changes an imported module)")
        elif name in ("exec", "eval", "compile"):
            self._say(node, f"calls {name} (runs code built at run time)")
        elif name in ("exit", "quit"):
            self._say(node, f"calls {name} (ends the kernel)")
        self.generic_visit(node)


def _imported_names(trees: Iterable[ast.AST]) -> set[str]:
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                names.update(a.asname or a.name for a in node.names)
    return names


def _parse(source: str) -> ast.AST | None:
    try:
        return ast.parse(_python_source(source))
    except (SyntaxError, ValueError):
        return None


def _canonical(source: str) -> str:
    """The source without blank lines and trailing spaces, for comparing cells."""
    return "\n".join(line.rstrip() for line in source.splitlines() if line.strip())


def _without_hidden_tests(source: str) -> str:
    """A master test cell as the student version shows it: the hidden part removed."""
    kept, inside = [], False
    for line in source.splitlines():
        if "### BEGIN HIDDEN TESTS" in line:
            inside = True
        elif "### END HIDDEN TESTS" in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def scan(notebook: Any, master: Any, *, student_id: str = "", name: str = "") -> list[Flag]:
    """Flag what the student's own code in ``notebook`` does to its surroundings.

    Args:
        notebook: the submitted notebook (an nbformat node).
        master: the course's master of the same notebook: its code cells (test cells as the
            student version shows them, too) are the course's own and are never flagged,
            wherever the student moved them.
        student_id: written into each flag, as submitted.
        name: the notebook's file name, as submitted.
    """
    own = set()
    for cell in master.cells:
        if cell.cell_type == "code":
            own |= {_canonical(cell.source), _canonical(_without_hidden_tests(cell.source))}
    all_trees = [t for t in (_parse(c.source) for c in notebook.cells
                             if c.cell_type == "code") if t is not None]
    modules = _imported_names(all_trees) | _imported_names(
        t for t in (_parse(c.source) for c in master.cells if c.cell_type == "code")
        if t is not None)
    # Names that a solution binds itself (a variable called `data`, say) are still modules
    # when some cell imported them; that is the conservative reading.
    flags: list[Flag] = []
    for index, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code" or _canonical(cell.source) in own:
            continue
        tree = _parse(cell.source)
        if tree is None:
            continue
        reader = _Reader(modules)
        reader.visit(tree)
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        where = grade_id if grade_id else f"cell {index}"
        flags += [Flag(student_id, name, where, finding) for finding in reader.findings]
    return flags
