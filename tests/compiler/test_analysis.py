"""Static data flow of a stage: what it reads before writing, and what it writes.

Each case is a stage's source with the exact sets the analysis must find. ``reads`` are the names
the stage needs from outside (a parameter, setup or an upstream stage); ``writes`` are the names it
may hand on. Builtins appear as reads here: the compiler, not the analysis, filters them out.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable

import pytest

from mlops_jupyter.compiler.analysis import Flow, TooDeep, Use, analyze


def flow_of(*cells: str, modules: Iterable[str] = ()) -> Flow:
    return analyze([(i, ast.parse(src)) for i, src in enumerate(cells, start=1)], set(modules))


def case(
    name: str,
    source: str,
    reads: Iterable[str],
    writes: Iterable[str],
    deleted: Iterable[str] = (),
    modules: Iterable[str] = (),
) -> pytest.param:
    return pytest.param(source, set(reads), set(writes), set(deleted), set(modules), id=name)


ASSIGNMENT = [
    case("plain", "x = y", {"y"}, {"x"}),
    case("chained", "a = b = c", {"c"}, {"a", "b"}),
    case("unpacking with star", "a, (b, *c) = d", {"d"}, {"a", "b", "c"}),
    case("augmented name is read and written", "total += step", {"total", "step"}, {"total"}),
    case("augmented attribute", "model.n += 1", {"model"}, {"model"}),
    case("augmented subscript", "counts[k] += 1", {"counts", "k"}, {"counts"}),
    case("annotated with value", "lr: float = base / 10", {"float", "base"}, {"lr"}),
    case("annotation alone binds nothing", "lr: float", {"float"}, set()),
    case("subscript assignment mutates", "df['y'] = f(x)", {"df", "f", "x"}, {"df"}),
    case("subscript index is read", "x[i] = v", {"x", "i", "v"}, {"x"}),
    case("attribute assignment mutates", "model.coef_ = w", {"model", "w"}, {"model"}),
    case("deep target mutates its root", "a.b[i].c = v", {"a", "i", "v"}, {"a"}),
    case("attribute of a call result writes nothing", "f().x = 1", {"f"}, set()),
    case("subscript of a call result writes nothing", "get()[0] = 1", {"get"}, set()),
    case("walrus", "if (n := len(xs)) > 3:\n    pass", {"len", "xs"}, {"n"}),
    case("walrus in a call statement", "print(m := 5)\nm2 = m", {"print"}, {"m", "m2"}),
    case("module-level global statement is ignored", "global g\ng = 1", set(), {"g"}),
]

DELETE = [
    case("del is a read and a write", "del x", {"x"}, {"x"}, deleted={"x"}),
    case("del after assignment", "x = 1\ndel x", set(), {"x"}, deleted={"x"}),
    case("assignment after del revives", "del x\nx = 2", {"x"}, {"x"}),
    case("del of an item mutates", "del d['k']", {"d"}, {"d"}),
    case("del of several targets", "del a, b.c", {"a", "b"}, {"a", "b"}, deleted={"a"}),
]

IMPORTS = [
    case(
        "method call on an imported module is not a write",
        "import numpy as np\nnp.random.seed(1)",
        set(),
        {"np"},
        modules={"np"},
    ),
    case(
        "dotted import binds the top package",
        "import os.path\nos.path.join('a', 'b')",
        set(),
        {"os"},
        modules={"os"},
    ),
    case(
        "plotting through a module reads only the data",
        "import matplotlib.pyplot as plt\nplt.plot(x)",
        {"x"},
        {"plt"},
        modules={"plt"},
    ),
    case(
        "from-import may bind an object: a method call writes it",
        "from x import y\ny.fit()",
        set(),
        {"y"},
    ),
    case("from-import with alias", "from pkg import sub as s", set(), {"s"}),
    case(
        "rebinding an imported module makes it a value",
        "import numpy as np\nnp = np.array([1])\nnp.sort()",
        set(),
        {"np"},
    ),
    case("star import binds nothing it can name", "from m import *", set(), set()),
]

DEFINITIONS = [
    case(
        "params and locals are not reads",
        "def f(a, *args, b=1, **kw):\n    c = a + b\n    return c + g(args, kw)",
        {"g"},
        {"f"},
    ),
    case(
        "decorators, defaults and annotations run at def time",
        "@cache\ndef f(a: T = d) -> R:\n    return a",
        {"cache", "T", "d", "R"},
        {"f"},
    ),
    case(
        "global assignment is a write",
        "def f():\n    global counter\n    counter = 1",
        set(),
        {"f", "counter"},
    ),
    case(
        "recursion is not a read",
        "def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)",
        set(),
        {"fact"},
    ),
    case(
        "nested function free names",
        "def outer():\n    def inner():\n        return y\n    return inner",
        {"y"},
        {"outer"},
    ),
    case(
        "nonlocal stays inside",
        "def outer():\n    z = 0\n    def inner():\n        nonlocal z\n        z += 1\n"
        "    return inner",
        set(),
        {"outer"},
    ),
    case("local import", "def f():\n    import os\n    return os.getcwd()", set(), {"f"}),
    case("async def", "async def f():\n    await client.get(url)", {"client", "url"}, {"f"}),
    case(
        "mutation inside a function reads the global", "def f():\n    lst.append(1)", {"lst"}, {"f"}
    ),
    case("lambda as a default", "def f(a=lambda: zz):\n    pass", {"zz"}, {"f"}),
    case(
        "globals a function uses are read at definition time",
        "def f():\n    return data\ndata = load()",
        {"data", "load"},
        {"f", "data"},
    ),
    case(
        "names used only inside a function defined in the stage",
        "def train():\n    return fit(X)\nscore = train()",
        {"fit", "X"},
        {"train", "score"},
    ),
    case(
        "class body names are its own; bases and keywords are read",
        "class Model(Base, metaclass=Meta):\n    size = 3\n    doubled = size * 2",
        {"Base", "Meta"},
        {"Model"},
    ),
    case(
        "a method does not see class attributes",
        "class A:\n    x = 1\n    def f(self):\n        return x",
        {"x"},
        {"A"},
    ),
    case(
        "a comprehension in a class body does not see class attributes",
        "class A:\n    n = 2\n    sq = [n * i for i in range(3)]",
        {"n", "range"},
        {"A"},
    ),
    case(
        "a class may name itself in its methods",
        "class A:\n    def m(self):\n        return A()",
        set(),
        {"A"},
    ),
    case(
        "a decorated class with annotations",
        "@dataclass\nclass P:\n    x: int = 0",
        {"dataclass", "int"},
        {"P"},
    ),
]

TARGETS = [
    case(
        "for targets",
        "for i, row in enumerate(rows):\n    last = row",
        {"enumerate", "rows"},
        {"i", "row", "last"},
    ),
    case(
        "accumulating in a loop reads the start value",
        "for x in xs:\n    total = total + x",
        {"xs", "total"},
        {"x", "total"},
    ),
    case("while body", "while cond:\n    n = step(n)", {"cond", "step", "n"}, {"n"}),
    case(
        "with targets",
        "with open(path) as fh, lock:\n    text = fh.read()",
        {"open", "path", "lock"},
        {"fh", "text"},
    ),
    case(
        "with target that is an attribute", "with a as (b, c.d):\n    pass", {"a", "c"}, {"b", "c"}
    ),
    case(
        "except target (Python unbinds it when the handler ends)",
        "try:\n    v = risky()\nexcept ValueError as err:\n    v = None\n    print(err)",
        {"risky", "ValueError", "print"},
        {"v", "err"},
        {"err"},
    ),
]

CALLS = [
    case("method call statement mutates the receiver", "model.fit(X)", {"model", "X"}, {"model"}),
    case("method call on a nested attribute writes the root", "a.b.c(x)", {"a", "x"}, {"a"}),
    case("method call on a call result writes nothing", "f().g()", {"f"}, set()),
    case("method call through a subscript", "data[0].append(1)", {"data"}, {"data"}),
    case("mutating a value bound in the stage", "x = [1]\nx.append(2)", set(), {"x"}),
    case("awaited method call", "await client.close()", {"client"}, {"client"}),
    case("a call used as a value is not a mutation", "y = model.predict(X)", {"model", "X"}, {"y"}),
    case(
        "a call inside another call is not a mutation",
        "print(model.predict(X))",
        {"print", "model", "X"},
        set(),
    ),
    case("an attribute expression alone is a read", "obj.method", {"obj"}, set()),
    # a statement call that only shows, queries or exports its receiver leaves it as it was
    *(
        case(f"{call} changes nothing", f"df{call}", {"df"}, set())
        for call in (
            ".value_counts()",
            ".info()",
            ".to_csv('out.csv')",
            ".head()",
            ".describe()",
            ".tail(3)",
            ".to_parquet('p')",
            ".show()",
            ".summary()",
            ".savefig('f.png')",
            ".get_params()",
            ".copy()",
            ".predict(1)",
            ".isna().sum()",
            ".sort_values('a')",
        )
    ),
    case("inplace=True changes the receiver", "df.dropna(inplace=True)", {"df"}, {"df"}),
    case("inplace=False does not", "df.dropna(inplace=False)", {"df"}, set()),
    case("inplace=flag may", "df.fillna(0, inplace=flag)", {"df", "flag"}, {"df"}),
    *(
        case(f"{call} changes the receiver", f"v{call}", {"v"}, {"v"})
        for call in (
            ".append(1)",
            ".extend([1])",
            ".update({})",
            ".pop()",
            ".sort()",
            ".clear()",
            ".add(1)",
            ".fill(0)",
            ".fit(1)",
            ".partial_fit(1)",
            ".set_params(a=1)",
            ".add_(1)",
            ".zero_grad()",
            ".add_edge(1, 2)",
            ".insert(0, 'c', 1)",
        )
    ),
    case("an unknown method may change it", "study.optimize(f)", {"study", "f"}, {"study"}),
]

COMPREHENSIONS = [
    case("target is local", "[x for x in y]", {"y"}, set()),
    case("element from outside", "[x for _ in y]", {"x", "y"}, set()),
    case("first iterable runs outside", "[x for x in x]", {"x"}, set()),
    case("dict comprehension", "{k: v for k, v in pairs}", {"pairs"}, set()),
    case(
        "set comprehension with condition",
        "{s for s in words if s not in stop}",
        {"words", "stop"},
        set(),
    ),
    case("generator expression", "(i * scale for i in it)", {"it", "scale"}, set()),
    case("nested comprehension", "[[c for c in row] for row in grid]", {"grid"}, set()),
    case("two generators", "[a for b in c for a in b]", {"c"}, set()),
    case("second generator reads its iterable", "[a for a in b for b in c]", {"b", "c"}, set()),
    case("target does not leak", "[i for i in r]\nprint(i)", {"r", "print", "i"}, set()),
    case("walrus binds outside", "ys = [y for x in xs if (y := f(x))]", {"xs", "f"}, {"ys", "y"}),
    case(
        "walrus binding is then bound",
        "[last := v for v in vs]\nprint(last)",
        {"vs", "print"},
        {"last"},
    ),
    case(
        "walrus in a comprehension inside a function binds in the function",
        "def f():\n    [k := 1 for _ in r]\n    return k",
        {"r"},
        {"f"},
    ),
    case("lambda params are local", "f = lambda a, b=d: a + b + c", {"d", "c"}, {"f"}),
    case("lambda over a column", "key = lambda row: row[col]", {"col"}, {"key"}),
    case("walrus inside a lambda stays in it", "f = lambda: (y := 1)", set(), {"f"}),
]

ORDER_AND_BRANCHES = [
    case("write then read is not a read", "x = 1\nprint(x)", {"print"}, {"x"}),
    case("read then write is a read", "print(x)\nx = 1", {"print", "x"}, {"x"}),
    case("self-referencing assignment reads", "x = x + 1", {"x"}, {"x"}),
    case("bound by both branches", "if c:\n    x = 1\nelse:\n    x = 2\ny = x", {"c"}, {"x", "y"}),
    case("bound by one branch only", "if c:\n    x = 1\ny = x", {"c", "x"}, {"x", "y"}),
    case(
        "bound by every elif branch",
        "if c:\n    x = 1\nelif d:\n    x = 2\nelse:\n    x = 3\ny = x",
        {"c", "d"},
        {"x", "y"},
    ),
    case(
        "elif without else",
        "if c:\n    x = 1\nelif d:\n    x = 2\ny = x",
        {"c", "d", "x"},
        {"x", "y"},
    ),
    case("bound before the if", "x = 0\nif c:\n    x = 1\ny = x", {"c"}, {"x", "y"}),
    case(
        "try and handler both bind",
        "try:\n    x = load()\nexcept OSError:\n    x = None\nuse(x)",
        {"load", "OSError", "use"},
        {"x"},
    ),
    case(
        "handler that does not bind",
        "try:\n    x = load()\nexcept OSError:\n    pass\nuse(x)",
        {"load", "OSError", "use", "x"},
        {"x"},
    ),
    case("finally always binds", "try:\n    pass\nfinally:\n    x = 1\nuse(x)", {"use"}, {"x"}),
    case(
        "try-else and handler both bind",
        "try:\n    pass\nexcept E:\n    x = 1\nelse:\n    x = 2\nuse(x)",
        {"E", "use"},
        {"x"},
    ),
    case(
        "except name used after the handler",
        "try:\n    pass\nexcept E as e:\n    pass\nprint(e)",
        {"E", "print", "e"},
        {"e"},
        {"e"},
    ),
]

MATCH = [
    case(
        "no case may match: a name every case binds is still unbound",
        "match v:\n    case 1:\n        x = 1\n    case 2:\n        x = 2\nuse(x)",
        {"v", "use", "x"},
        {"x"},
    ),
    case(
        "match captures are writes",
        "match p:\n    case Point(x=px):\n        r = px\n"
        "    case {'k': v, **rest}:\n        r = v\n"
        "    case [first, *others]:\n        r = first",
        {"p", "Point"},
        {"px", "r", "v", "rest", "first", "others"},
    ),
    case(
        "a capture used after the match may be unbound",
        "match cmd:\n    case [a, b]:\n        pass\n    case _:\n        pass\nuse(a)",
        {"cmd", "use", "a"},
        {"a", "b"},
    ),
    case(
        "value patterns read", "match c:\n    case Color.RED:\n        pass", {"c", "Color"}, set()
    ),
    case("guard reads", "match v:\n    case n if n > limit:\n        pass", {"v", "limit"}, {"n"}),
    case(
        "as pattern",
        "match v:\n    case [1, 2] as pair:\n        out = pair",
        {"v"},
        {"pair", "out"},
    ),
]


# changes in place through another name reach the value it came from (issue 9's patterns)
IN_PLACE = [
    case(
        "loop variable over a list of names (Titanic)",
        "for d in [train, test]:\n    d['age'] = 0",
        {"train", "test"},
        {"d", "train", "test"},
    ),
    case(
        "loop variable over a container",
        "for m in models:\n    m.fit(X)",
        {"models", "X"},
        {"m", "models"},
    ),
    case("a plain alias", "a = df\na['c'] = 3", {"df"}, {"a", "df"}),
    case("an alias of an alias", "a = df\nb = a\nb.x = 1", {"df"}, {"a", "b", "df"}),
    case(
        "a part taken out of a container",
        "rows = data['rows']\nrows.append(3)",
        {"data"},
        {"rows", "data"},
    ),
    case(
        "out= writes into its array",
        "import numpy as np\nnp.clip(x, 0, 1, out=x)",
        {"x"},
        {"np", "x"},
        modules={"np"},
    ),
    case("shuffle writes into its argument", "rng.shuffle(arr)", {"rng", "arr"}, {"rng", "arr"}),
    case(
        "a shuffle by a module's function",
        "import random\nrandom.shuffle(items)",
        {"items"},
        {"random", "items"},
        modules={"random"},
    ),
    case("an alias rebound is no longer one", "a = df\na = {}\na['c'] = 3", {"df"}, {"a"}),
    case(
        "augmented assignment rebinds, whatever it came from", "n = count\nn += 1", {"count"}, {"n"}
    ),
    case(
        "a read through an alias changes nothing", "a = df\nprint(a['c'])", {"df", "print"}, {"a"}
    ),
]


@pytest.mark.parametrize(
    ("source", "reads", "writes", "deleted", "modules"),
    IN_PLACE + ASSIGNMENT + DELETE + IMPORTS + DEFINITIONS + TARGETS + CALLS + COMPREHENSIONS
    + ORDER_AND_BRANCHES + MATCH,
)  # fmt: skip
def test_reads_and_writes(
    source: str, reads: set[str], writes: set[str], deleted: set[str], modules: set[str]
) -> None:
    flow = flow_of(source)
    assert set(flow.reads) == reads
    assert set(flow.writes) == writes
    assert flow.deleted == deleted
    assert flow.modules == modules


def test_star_import_is_flagged() -> None:
    assert flow_of("from m import *").star_import
    assert not flow_of("from m import a").star_import


def test_modules_from_setup_are_not_mutated_by_method_calls() -> None:
    flow = flow_of("np.random.seed(0)\nx = np.zeros(3)", modules={"np"})
    assert set(flow.reads) == {"np"}
    assert set(flow.writes) == {"x"}


def test_the_modules_argument_is_not_changed() -> None:
    modules = {"np"}
    flow_of("np = 3", modules=modules)
    assert modules == {"np"}


def test_cells_are_one_flow_in_order() -> None:
    flow = flow_of("x = 1", "y = x + z", "del y")
    assert set(flow.reads) == {"z"}
    assert set(flow.writes) == {"x", "y"}
    assert flow.deleted == {"y"}


def test_uses_record_cell_line_and_why() -> None:
    flow = flow_of("import pandas as pd\n\nframe = pd.read_csv(path)", "\nmodel.fit(frame)")
    assert flow.reads["path"] == Use(cell=1, line=3, how="read")
    assert flow.reads["model"] == Use(cell=2, line=2, how="read")
    assert flow.writes["model"] == Use(cell=2, line=2, how="mutated by .fit()")
    assert flow.writes["frame"] == Use(cell=1, line=3, how="assigned")
    assert flow.writes["pd"].how == "imported"


def test_a_read_is_recorded_where_it_first_happens() -> None:
    flow = flow_of("a = x", "b = x")
    assert flow.reads["x"] == Use(cell=1, line=1, how="read")


@pytest.mark.parametrize(
    ("source", "how"),
    [
        ("model.fit(X)", "mutated by .fit()"),
        ("df.dropna(inplace=True)", "mutated by .dropna(inplace=True)"),
        ("study.optimize(objective)", "may be changed by .optimize()"),
    ],
)
def test_how_says_whether_a_call_surely_or_maybe_changes_its_receiver(
    source: str, how: str
) -> None:
    receiver = source.split(".")[0]
    assert flow_of(f"{receiver} = make()", source).writes[receiver].how == how


def test_a_call_that_changes_nothing_leaves_the_last_write_where_it_was() -> None:
    flow = flow_of("counts = load()", "counts.value_counts()\ncounts.head()")
    assert flow.writes["counts"] == Use(cell=1, line=1, how="assigned")


def test_a_write_is_recorded_where_it_last_happens() -> None:
    flow = flow_of("x = 1", "x = 2\nx.sort()")
    assert flow.writes["x"] == Use(cell=2, line=2, how="mutated by .sort()")


@pytest.mark.parametrize(
    ("source", "name", "how"),
    [
        pytest.param(*row, id=row[2])
        for row in [
            ("def f():\n    pass", "f", "defined (def)"),
            ("class C:\n    pass", "C", "defined (class)"),
            ("del x", "x", "deleted"),
            ("x += 1", "x", "augmented assignment"),
            ("x[0] = 1", "x", "subscript assignment"),
            ("x.a = 1", "x", "attribute assignment"),
            ("for i in r:\n    pass", "i", "loop variable"),
            ("with c as w:\n    pass", "w", "with target"),
            ("(n := 1)", "n", "assigned by :="),
            ("[n := 1 for _ in r]", "n", "assigned by := in a comprehension"),
            ("def f():\n    global g\n    g = 1", "g", "assigned through 'global' in f"),
        ]
    ],
)
def test_how_a_name_is_written(source: str, name: str, how: str) -> None:
    assert flow_of(source).writes[name].how == how


def test_how_a_name_is_read() -> None:
    flow = flow_of("def f():\n    return a\ng = lambda: b\nc2 = [c for _ in r]")
    assert flow.reads["a"].how == "used inside f"
    assert flow.reads["b"].how == "used inside a lambda"
    assert flow.reads["c"].how == "used in a comprehension"


def test_augmented_global_inside_a_function_reads_it() -> None:
    flow = flow_of("def bump():\n    global counter\n    counter += 1")
    assert "counter" in flow.reads


def test_parenthesised_del_marks_each_name_deleted() -> None:
    flow = flow_of("a = b = 1\ndel (a, b)")
    assert flow.deleted == {"a", "b"}


def deep_sum(terms: int) -> ast.Module:
    """``x = a + a + ... + a`` built directly: deeper than the parser would accept."""
    node: ast.expr = ast.Name("a", ast.Load(), lineno=1, col_offset=0)
    for _ in range(terms):
        right = ast.Name("a", ast.Load(), lineno=1, col_offset=0)
        node = ast.BinOp(node, ast.Add(), right, lineno=1, col_offset=0)
    target = ast.Name("x", ast.Store(), lineno=1, col_offset=0)
    return ast.Module([ast.Assign([target], node, lineno=1, col_offset=0)], [])


def test_a_long_chain_is_walked() -> None:
    flow = analyze([(1, deep_sum(3000))])
    assert (set(flow.reads), set(flow.writes)) == ({"a"}, {"x"})


def test_a_tree_too_deep_to_walk_names_its_cell() -> None:
    limit = sys.getrecursionlimit()
    with pytest.raises(TooDeep) as caught:
        analyze([(1, ast.parse("y = 1")), (7, deep_sum(50_000))])
    assert caught.value.cell == 7
    assert sys.getrecursionlimit() == limit
