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
processes or opening network connections; ending the kernel; and any mention of the answer
key or of the stored cases (:data:`ANSWER_KEY_WORDS`: ``course_grading``, ``answers``,
``_reference``, ``importlib``, ``__import__``, ``visible_cases``, a ``_data`` folder), in a
name, an attribute, an import or a string, also when the string is put together from pieces
the code shows (``"course_" + "grading"``, ``"gnidarg_esruoc"[::-1]``,
``"".join(map(chr, [...]))``, ...). Cells with IPython magics are read after IPython's own
translation to Python; a cell that is not valid Python is skipped (it fails when it runs).
"""

from __future__ import annotations

import ast
import base64
import binascii
import codecs
import re
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
#: Words that point at the answer key (the grading side, its reference implementations) or at
#: the stored visible cases, and what each one names in a flag. A solution has no business
#: mentioning them in any spelling; flagging them is a note for the instructor.
ANSWER_KEY_WORDS = {
    "course_grading": "the grading side",
    "answers": "the answer key",
    "_reference": "a reference implementation",
    "importlib": "importlib (loading modules by name)",
    "__import__": "__import__ (loading modules by name)",
    "visible_cases": "the stored cases file",
    "_data/": "the learner package's data folder, where the stored cases are",
}
#: A path that goes through a folder called ``_data`` (``"course_utils/_data/x.npz"``); only
#: strings are read for it, since ``_data`` ends many ordinary names (``train_data``).
_DATA_FOLDER = re.compile(r"(?:^|[/\\])_data(?:[/\\]|$)")
#: The same words with separators and case dropped, where that still names only them
#: (``"Course-Grading"``, ``"visible cases"``); ``_reference`` and ``__import__`` are kept
#: whole, since "reference" and "import" are ordinary words.
_SQUEEZED_WORDS = {"coursegrading": "course_grading", "answers": "answers",
                   "importlib": "importlib", "visiblecases": "visible_cases"}
#: Longest string put together while reading a cell; longer ones are cut (a guard, not a limit
#: a real answer meets).
_MAX_FOLDED = 10_000
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


class _Folder:
    """Work out, without running anything, the strings a cell's expressions spell.

    Handles constants, ``+``, ``*``, ``%``, f-strings, slicing, ``join``, ``map(chr, ...)``,
    ``chr``, ``bytes``, ``str`` and ``bytes`` methods (``lower``, ``replace``, ``decode``,
    ...), ``reversed``, ``codecs.decode(..., "rot13")``, base64 and hex, and names assigned
    one of these earlier in the cell. Anything else is unknown (None).
    """

    _METHODS = {"lower", "upper", "casefold", "strip", "lstrip", "rstrip", "title",
                "capitalize", "swapcase", "replace", "decode", "encode", "format",
                "removeprefix", "removesuffix", "join"}

    def __init__(self, tree: ast.AST) -> None:
        self.names: dict[str, Any] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                    node.targets[0], ast.Name):
                value = self.fold(node.value)
                if value is not None:
                    self.names[node.targets[0].id] = value

    def text(self, node: ast.AST) -> str | None:
        """The string ``node`` spells (bytes read as Latin-1), or None when unknown."""
        value = self.fold(node)
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("latin-1")
        return value[:_MAX_FOLDED] if isinstance(value, str) else None

    def fold(self, node: ast.AST, depth: int = 0) -> Any:
        """The value of ``node`` when it is a string, bytes, an int or a sequence of them."""
        if depth > 50:
            return None
        try:
            value = self._fold(node, depth + 1)
        except Exception:  # a piece that does not fit together (a bad slice, a bad codec)
            return None
        if isinstance(value, (str, bytes)) and len(value) > _MAX_FOLDED:
            return value[:_MAX_FOLDED]
        return value

    def _fold(self, node: ast.AST, depth: int) -> Any:
        fold = self.fold
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes, int)):
            return node.value
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = fold(node.operand, depth)
            return -value if isinstance(value, int) else None
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = [fold(e, depth) for e in node.elts]
            return None if any(i is None for i in items) else items
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                part = fold(value.value if isinstance(value, ast.FormattedValue) else value,
                            depth)
                parts.append(str(part) if part is not None else "\0")
            return "".join(parts)
        if isinstance(node, ast.BinOp):
            left, right = fold(node.left, depth), fold(node.right, depth)
            if isinstance(node.op, ast.Add) and (isinstance(left, str) or isinstance(right, str)):
                # An unknown piece (a variable, a path) stands as "\0": the known pieces
                # around it are still read (``root + "/_da" + "ta"``).
                left = "\0" if left is None else left
                right = "\0" if right is None else right
            if left is None or right is None:
                return None
            if isinstance(node.op, ast.Add) and type(left) is type(right):
                return left + right
            if isinstance(node.op, ast.Mult) and isinstance(right, int) and \
                    isinstance(left, (str, bytes, list)) and len(left) * right <= _MAX_FOLDED:
                return left * right
            if isinstance(node.op, ast.Mod) and isinstance(left, str) and _small_format(left):
                return left % (tuple(right) if isinstance(right, list) else right)
            return None
        if isinstance(node, ast.Subscript):
            base = fold(node.value, depth)
            if base is None:
                return None
            index = node.slice
            if isinstance(index, ast.Slice):
                parts = (index.lower, index.upper, index.step)
                bounds = [None if part is None else fold(part, depth) for part in parts]
                if any(b is None and p is not None for b, p in zip(bounds, parts)):
                    return None
                return base[slice(*bounds)]
            position = fold(index, depth)
            return base[position] if isinstance(position, int) else None
        if isinstance(node, ast.Call):
            return self._fold_call(node, depth)
        return None

    def _fold_call(self, node: ast.Call, depth: int) -> Any:
        fold = self.fold
        func = node.func
        args = [fold(a, depth) for a in node.args]
        name = _dotted(func)
        if name == "chr" and args and isinstance(args[0], int):
            return chr(args[0])
        if name in ("bytes", "bytearray") and args and isinstance(args[0], list):
            return bytes(args[0])
        if name == "str" and args and isinstance(args[0], str):
            return args[0]
        if name == "reversed" and args and args[0] is not None:
            return list(reversed(args[0]))
        if name == "map" and len(node.args) == 2 and _dotted(node.args[0]) == "chr" and \
                isinstance(args[1], list):
            return [chr(i) for i in args[1]]
        if name == "bytes.fromhex" and args and isinstance(args[0], str):
            return bytes.fromhex(args[0])
        if name.endswith(("b64decode", "b32decode", "b16decode", "a2b_hex", "unhexlify")) \
                and args and isinstance(args[0], (str, bytes)):
            decoder = {"b64decode": base64.b64decode, "b32decode": base64.b32decode,
                       "b16decode": base64.b16decode, "a2b_hex": binascii.a2b_hex,
                       "unhexlify": binascii.unhexlify}[name.rsplit(".", 1)[-1]]
            return decoder(args[0])
        if name == "codecs.decode" and len(args) >= 2 and isinstance(args[0], str) and \
                isinstance(args[1], str):
            return codecs.decode(args[0], args[1])
        if isinstance(func, ast.Attribute) and func.attr in self._METHODS:
            base = fold(func.value, depth)
            if base is None or any(a is None for a in args):
                return None
            if func.attr == "join":
                items = args[0] if args else None
                if not isinstance(items, list) or sum(len(i) for i in items) + \
                        len(base) * len(items) > _MAX_FOLDED:
                    return None
                return base.join(items)
            if func.attr == "format" and not _small_format(base):
                return None
            if func.attr == "replace" and len(args) >= 2 and \
                    len(base) * (len(args[1]) + 1) > _MAX_FOLDED:
                return None
            return getattr(base, func.attr)(*args)
        return None


def _small_format(template: Any) -> bool:
    """Whether a ``%`` or ``format`` template asks for no large field width (folding
    ``"%999999999s"`` would build a huge string while only reading the cell)."""
    return isinstance(template, str) and re.search(r"\d{4,}", template) is None


def _words_in(text: str, *, string: bool = False) -> set[str]:
    """The :data:`ANSWER_KEY_WORDS` ``text`` contains, as written or with separators dropped;
    ``string`` says ``text`` is a string of the code (then a ``_data`` folder counts too)."""
    lowered = text.lower()
    found = {word for word in ANSWER_KEY_WORDS if word in lowered and word != "_data/"}
    if string and _DATA_FOLDER.search(lowered):
        found.add("_data/")
    squeezed = re.sub(r"[^a-z0-9]", "", lowered)
    found |= {word for key, word in _SQUEEZED_WORDS.items() if key in squeezed}
    return found


def _answer_key_mentions(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, word)`` for each answer-key word a cell mentions, first mention of each."""
    folder = _Folder(tree)
    seen: dict[str, int] = {}

    def note(node: ast.AST, text: str | None, string: bool = False) -> None:
        if text:
            for word in _words_in(text, string=string):
                line = getattr(node, "lineno", 0)
                if word not in seen or line < seen[word]:
                    seen[word] = line

    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            note(node, node.id)
        elif isinstance(node, ast.Attribute):
            note(node, node.attr)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            note(node, getattr(node, "module", None) or "")
            for alias in node.names:
                note(node, f"{alias.name} {alias.asname or ''}")
        elif isinstance(node, ast.keyword) and node.arg:
            note(node.value, node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            note(node, node.name)
        if isinstance(node, ast.expr) and not isinstance(node, (ast.Name, ast.Attribute)):
            note(node, folder.text(node), string=True)
    return sorted((line, word) for word, line in seen.items())


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
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # hostile depth or size
        return None


def _canonical(source: str) -> str:
    """The source without blank lines and trailing spaces, for comparing cells."""
    return "\n".join(line.rstrip() for line in source.splitlines() if line.strip())


def _without_hidden_tests(source: str) -> str:
    """A master test cell as the student version shows it: the hidden part removed."""
    from course_grading.preprocessors import HIDDEN_BEGIN, HIDDEN_END, outside_markers

    return outside_markers(source, HIDDEN_BEGIN, HIDDEN_END)


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
        for line, word in _answer_key_mentions(tree):
            reader.findings.append(f"line {line}: mentions {ANSWER_KEY_WORDS[word]} "
                                   f"({word!r})")
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        where = grade_id if grade_id else f"cell {index}"
        flags += [Flag(student_id, name, where, finding) for finding in reader.findings]
    return flags
