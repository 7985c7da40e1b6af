"""Static data flow of a stage: which names it reads before writing, and which it writes.

Pure functions over ``ast``; no kernel, no imports of the user's code. The rules, in short:

* a name is *read* by a stage when some statement loads it before the stage has surely bound it
  (bindings inside ``if``/``try`` branches count only when every branch binds the name; loop bodies
  are taken to run);
* a name is *written* by assignment of any form (plain, augmented, annotated, subscript or attribute
  assignment, ``del``, ``import``, ``def``/``class``, ``for``/``with``/``except`` targets, ``:=``,
  ``match`` captures) and by a method-call statement on it that can change it (``model.fit(X)``
  mutates ``model``, ``df.head()`` does not: :func:`call_effect`), except when the receiver is a
  module bound by an import (``plt.plot(x)`` does not change ``plt``);
* mutation (subscript/attribute assignment, augmented assignment, method call, ``del``) needs the
  old value, so it is a read too;
* a mutation through another name changes the value it came from: a plain alias (``t = table``),
  an element or part taken out (``rows = data["rows"]``), a loop variable over names or a
  container (``for d in [train, test]``, ``for m in models``); and ``out=x`` or ``rng.shuffle(x)``
  write into ``x`` (the runtime checks what static rules cannot see: ``values.save_outputs``);
* a function or class defined in the stage reads the globals its body uses, at definition time
  (``global`` names it assigns are writes); comprehension and lambda variables are their own scope.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from typing import ClassVar

_FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class Use:
    """Where and how a name was first read or last written."""

    cell: int
    line: int
    how: str


@dataclass
class Flow:
    reads: dict[str, Use] = field(default_factory=dict)
    writes: dict[str, Use] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)  # last write was ``del``: no value to pass on
    modules: set[str] = field(default_factory=set)  # latest binding is an import
    star_import: bool = False
    imports: set[str] = field(default_factory=set)  # dotted names of every module imported


# --------------------------------------------------------------------------- nested scopes


@dataclass
class _ScopeNames:
    free: dict[str, int]  # names the scope needs from the module, with a line number
    global_writes: dict[str, int]  # module names it assigns through ``global`` (or := escapes)
    imports: set[str] = field(default_factory=set)


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """Dotted names of the modules an import statement loads (relative imports: none)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return [node.module] if node.module and node.level == 0 else []


class _Dispatch(ast.NodeVisitor):
    """``ast.NodeVisitor`` made fast for the compile hot loop: the handler is looked up once per
    node type, and ``generic_visit`` walks only fields that can hold names (no ``ctx`` objects,
    no constants, which the stock visitor routes through a deprecation shim)."""

    _handlers: ClassVar[dict[type, str]]
    _fields: ClassVar[dict[type, tuple[str, ...]]] = {}

    def __init_subclass__(cls) -> None:
        cls._handlers = {}

    def visit(self, node: ast.AST) -> None:
        kind = type(node)
        name = self._handlers.get(kind)
        if name is None:
            name = "visit_" + kind.__name__
            if not hasattr(self, name):
                name = "generic_visit"
            self._handlers[kind] = name
        getattr(self, name)(node)

    def generic_visit(self, node: ast.AST) -> None:
        kind = type(node)
        fields = self._fields.get(kind)
        if fields is None:
            fields = self._fields[kind] = tuple(
                f for f in kind._fields if f not in ("ctx", "type_comment", "kind")
            )
        for field_name in fields:
            value = getattr(node, field_name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def visit_Constant(self, node: ast.Constant) -> None:
        pass


class _Collector(_Dispatch):
    """Loads and stores of one scope; nested scopes contribute only their free names."""

    def __init__(self) -> None:
        self.loads: dict[str, int] = {}
        self.stores: dict[str, int] = {}
        self.nested_free: dict[str, int] = {}
        self.global_writes: dict[str, int] = {}
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.walrus: dict[str, int] = {}
        self.imports: set[str] = set()

    def _store(self, name: str, line: int) -> None:
        self.stores.setdefault(name, line)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.loads.setdefault(node.id, node.lineno)
        else:
            self._store(node.id, node.lineno)

    def visit_Global(self, node: ast.Global) -> None:
        self.globals.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.nonlocals.update(node.names)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.imports.update(_imported(node))
        for alias in node.names:
            if alias.name != "*":
                self._store(alias.asname or alias.name.split(".")[0], node.lineno)

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self._store(node.name, node.lineno)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self._store(node.name, node.lineno)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._store(node.name, node.lineno)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self._store(node.rest, node.lineno)
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._store(node.target.id, node.lineno)
        self.walrus.setdefault(node.target.id, node.lineno)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):  # ``x += 1`` reads x (a global one, if declared)
            self.loads.setdefault(node.target.id, node.lineno)
        self.generic_visit(node)

    def _nested(self, inner: _ScopeNames) -> None:
        for name, line in inner.free.items():
            self.nested_free.setdefault(name, line)
        for name, line in inner.global_writes.items():
            self.global_writes.setdefault(name, line)
        self.imports |= inner.imports

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in _definition_time_exprs(node):
            self.visit(expr)
        self._store(node.name, node.lineno)
        self._nested(scope_names(node))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expr in _definition_time_exprs(node):
            self.visit(expr)
        self._nested(scope_names(node))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in _definition_time_exprs(node):
            self.visit(expr)
        self._store(node.name, node.lineno)
        self._nested(scope_names(node))

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
    ) -> None:
        self.visit(node.generators[0].iter)  # the first iterable runs in the enclosing scope
        inner = scope_names(node)
        self._nested(_ScopeNames(inner.free, {}, inner.imports))
        for name, line in inner.global_writes.items():  # := inside binds in this scope
            self._store(name, line)
            self.walrus.setdefault(name, line)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension


def _definition_time_exprs(node: ast.AST) -> list[ast.expr]:
    """Decorators, defaults, annotations and bases: evaluated where the def/class/lambda stands."""
    exprs: list[ast.expr] = list(getattr(node, "decorator_list", []))
    if isinstance(node, ast.ClassDef):
        exprs += node.bases + [k.value for k in node.keywords]
        return exprs
    args = node.args  # type: ignore[attr-defined]
    exprs += [d for d in args.defaults + args.kw_defaults if d is not None]
    if not isinstance(node, ast.Lambda):
        every = args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]
        exprs += [a.annotation for a in every if a is not None and a.annotation is not None]
        if node.returns is not None:  # type: ignore[attr-defined]
            exprs.append(node.returns)  # type: ignore[attr-defined]
    return exprs


def scope_names(node: ast.AST) -> _ScopeNames:
    """Free (module-level) names and global writes of a function, lambda, class or comprehension."""
    collector = _Collector()
    params: set[str] = set()
    if isinstance(node, _FUNCTION_NODES):
        args = node.args
        for arg in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
            if arg is not None:
                params.add(arg.arg)
        body = [node.body] if isinstance(node, ast.Lambda) else node.body
        for part in body:
            collector.visit(part)
    elif isinstance(node, ast.ClassDef):
        for stmt in node.body:
            collector.visit(stmt)
    elif isinstance(node, _COMPREHENSIONS):
        for i, gen in enumerate(node.generators):
            if i:
                collector.visit(gen.iter)
            collector.visit(gen.target)
            for cond in gen.ifs:
                collector.visit(cond)
        if isinstance(node, ast.DictComp):
            collector.visit(node.key)
            collector.visit(node.value)
        else:
            collector.visit(node.elt)
        # names bound by := escape the comprehension; its own targets stay inside
        escaping = dict(collector.walrus)
        local = {n for n in collector.stores if n not in escaping}
        free = {
            n: line
            for n, line in {**collector.nested_free, **collector.loads}.items()
            if n not in local and n not in escaping
        }
        return _ScopeNames(free, {**collector.global_writes, **escaping}, collector.imports)

    if isinstance(node, ast.ClassDef):
        # methods do not see class attributes, so their free names all reach the module
        free = {n: line for n, line in collector.loads.items() if n not in collector.stores}
        for n, line in collector.nested_free.items():
            free.setdefault(n, line)
    else:
        local = (params | set(collector.stores)) - collector.globals - collector.nonlocals
        free = {
            n: line
            for n, line in {**collector.nested_free, **collector.loads}.items()
            if n not in local and n not in collector.nonlocals
        }
    global_writes = dict(collector.global_writes)
    for name, line in collector.stores.items():
        if name in collector.globals:
            global_writes.setdefault(name, line)
    return _ScopeNames(free, global_writes, collector.imports)


# --------------------------------------------------------------------------- module level


class FlowAnalyzer(_Dispatch):
    """Walks a stage's cells in order, tracking which names are surely bound so far."""

    def __init__(self, modules: set[str] | None = None) -> None:
        self.flow = Flow(modules=set(modules or ()))
        self.bound: set[str] = set()
        self.cell = 0
        # name -> the names whose objects it may be (part of): mutating it mutates them
        self.aliases: dict[str, frozenset[str]] = {}

    # -- bookkeeping

    def read(self, name: str, line: int, how: str = "read") -> None:
        if name not in self.bound and name not in self.flow.reads:
            self.flow.reads[name] = Use(self.cell, line, how)

    def write(self, name: str, line: int, how: str, *, module: bool = False) -> None:
        self.aliases.pop(name, None)  # rebound: no longer refers to what it did
        self.flow.writes[name] = Use(self.cell, line, how)
        self.flow.deleted.discard(name)
        self.bound.add(name)
        if module:
            self.flow.modules.add(name)
        else:
            self.flow.modules.discard(name)

    def mutate(self, name: str, line: int, how: str) -> None:
        self.read(name, line, how)
        if name not in self.flow.modules:
            self._changed(name, line, how)

    def _changed(self, name: str, line: int, how: str) -> None:
        """``name``'s object changed in place: so did every object it may be part of."""
        through = self.aliases.get(name, frozenset())
        self.write(name, line, how)
        if through:
            self.aliases[name] = through  # still the same object after a mutation
        for other in sorted(through - {name}):
            if other not in self.flow.modules:
                self.read(other, line, f"changed in place through '{name}'")
                self.flow.writes[other] = Use(self.cell, line, f"changed in place through '{name}'")
                self.flow.deleted.discard(other)
                self.bound.add(other)

    def _alias(self, name: str, source: ast.expr | None) -> None:
        """``name`` now refers to (part of) the objects ``source`` names, if any."""
        roots = _sources(source)
        found: set[str] = set()
        for root in roots:
            if root not in self.flow.modules:
                found |= {root, *self.aliases.get(root, ())}
        if found:
            self.aliases[name] = frozenset(found)

    def add_cell(self, tree: ast.Module, cell: int) -> None:
        self.cell = cell
        for stmt in tree.body:
            self.visit(stmt)

    def _body(self, stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            self.visit(stmt)

    def _branches(self, *bodies: list[ast.stmt]) -> None:
        """Names count as bound after a branch point only if every branch binds them."""
        before = set(self.bound)
        after: set[str] | None = None
        for body in bodies:
            self.bound = set(before)
            self._body(body)
            after = self.bound if after is None else after & self.bound
        self.bound = after if after is not None else before

    # -- targets

    def _store(self, target: ast.expr, how: str) -> None:
        if isinstance(target, ast.Name):
            self.write(target.id, target.lineno, how)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._store(elt, how)
        elif isinstance(target, ast.Starred):
            self._store(target.value, how)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            if isinstance(target, ast.Subscript):
                self.visit(target.slice)
            root = _root_name(target.value)
            if root is None:
                self.visit(target.value)
            else:
                self._reads_within(target.value)
                self.mutate(root.id, root.lineno, f"{_kind(target)} assignment")

    def _reads_within(self, expr: ast.expr) -> None:
        """Visit the parts of ``a.b[i].c`` other than the root name (e.g. the index ``i``)."""
        node = expr
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            if isinstance(node, ast.Subscript):
                self.visit(node.slice)
            node = node.value

    # -- statements

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._store(target, "assigned")
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            self._alias(node.targets[0].id, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            # `n += 1` rebinds an int; whoever `n` was taken from keeps its value
            name = node.target.id
            self.read(name, node.lineno, "augmented assignment")
            if name not in self.flow.modules:
                through = self.aliases.get(name)
                self.write(name, node.lineno, "augmented assignment")
                if through:
                    self.aliases[name] = through
        else:
            self._store(node.target, "augmented")

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            self._store(node.target, "assigned")
        elif not isinstance(node.target, ast.Name):
            self._store(node.target, "annotated")

    def visit_Delete(self, node: ast.Delete) -> None:
        targets = list(node.targets)
        while targets:
            target = targets.pop(0)
            if isinstance(target, (ast.Tuple, ast.List)):  # ``del (a, b)``
                targets[:0] = target.elts
            elif isinstance(target, ast.Name):
                self.read(target.id, target.lineno, "deleted")
                self.write(target.id, target.lineno, "deleted")
                self.flow.deleted.add(target.id)
            else:
                self._store(target, "del")

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.flow.imports.update(_imported(node))
        for alias in node.names:
            if alias.name == "*":
                self.flow.star_import = True
                continue
            name = alias.asname or alias.name.split(".")[0]
            # ``from m import f`` may bind a function or class: only ``import m`` is surely a module
            self.write(name, node.lineno, "imported", module=isinstance(node, ast.Import))

    visit_ImportFrom = visit_Import

    def _definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        for expr in _definition_time_exprs(node):
            self.visit(expr)
        inner = scope_names(node)
        self.flow.imports |= inner.imports
        for name, line in inner.free.items():
            if name != node.name:
                self.read(name, line, "used inside " + node.name)
        for name, line in inner.global_writes.items():
            self.write(name, line, f"assigned through 'global' in {node.name}")
        kind = "class" if isinstance(node, ast.ClassDef) else "def"
        self.write(node.name, node.lineno, f"defined ({kind})")

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _definition

    def visit_Expr(self, node: ast.Expr) -> None:
        self.visit(node.value)
        call = node.value
        if isinstance(call, ast.Await):
            call = call.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
            root = _root_name(call.func.value)
            how = call_effect(call)
            if root is not None and root.id not in self.flow.modules and how is not None:
                self._changed(root.id, root.lineno, how)
            if call.func.attr == "shuffle" and call.args:  # rng.shuffle(x), random.shuffle(x)
                arg = _root_name(call.args[0])
                if arg is not None:
                    self.mutate(arg.id, arg.lineno, "shuffled in place")

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        for keyword in node.keywords:  # np.clip(x, 0, 1, out=x)
            target = _root_name(keyword.value) if keyword.arg == "out" else None
            if target is not None:
                self.mutate(target.id, target.lineno, "written through out=")

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self._store(node.target, "loop variable")
        targets = node.target.elts if isinstance(node.target, ast.Tuple) else [node.target]
        for target in targets:
            if isinstance(target, ast.Name):  # each item is one of the iterated objects
                self._alias(target.id, node.iter)
        self._body(node.body)
        self._body(node.orelse)

    visit_AsyncFor = visit_For

    def visit_While(self, node: ast.While) -> None:
        self.visit(node.test)
        self._body(node.body)
        self._body(node.orelse)

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        self._branches(node.body, node.orelse)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._store(item.optional_vars, "with target")
        self._body(node.body)

    visit_AsyncWith = visit_With

    def visit_Try(self, node: ast.Try) -> None:
        handlers: list[list[ast.stmt]] = []
        for handler in node.handlers:
            if handler.type is not None:
                self.visit(handler.type)
            body: list[ast.stmt] = list(handler.body)
            if handler.name:  # bound in the handler, and unbound again when it ends
                body.insert(0, _bind(handler.name, handler.lineno))
                end = body[-1].end_lineno or handler.lineno
                body.append(ast.Delete([ast.Name(handler.name, ast.Del(), lineno=end)], lineno=end))
            handlers.append(body)
        self._branches(node.body + node.orelse, *handlers)
        self._body(node.finalbody)

    visit_TryStar = visit_Try

    def visit_Match(self, node: ast.Match) -> None:
        self.visit(node.subject)
        bodies = []
        for case in node.cases:
            collector = _Collector()
            collector.visit(case.pattern)
            for name in collector.loads:  # value patterns like ``case Color.RED`` read names
                self.read(name, case.pattern.lineno)
            captures: list[ast.stmt] = [_bind(n, line) for n, line in collector.stores.items()]
            if case.guard is not None:
                line = case.pattern.lineno
                captures.append(ast.If(case.guard, [ast.Pass(lineno=line)], [], lineno=line))
            bodies.append(captures + case.body)
        self._branches(*bodies, [])

    def visit_Global(self, node: ast.Global) -> None:  # no meaning at module level
        pass

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        pass

    # -- expressions

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.read(node.id, node.lineno)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.write(node.target.id, node.lineno, "assigned by :=")

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expr in _definition_time_exprs(node):
            self.visit(expr)
        for name, line in scope_names(node).free.items():
            self.read(name, line, "used inside a lambda")

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
    ) -> None:
        self.visit(node.generators[0].iter)
        inner = scope_names(node)
        for name, line in inner.free.items():
            self.read(name, line, "used in a comprehension")
        for name, line in inner.global_writes.items():
            self.write(name, line, "assigned by := in a comprehension")

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension


# Methods that change their receiver in place: list, dict, set, DataFrame/Series, ndarray,
# estimators (scikit-learn, Keras, PyTorch modules and optimizers), graphs.
_MUTATING = frozenset((
    "append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse", "update",
    "setdefault", "popitem", "add", "discard", "intersection_update", "difference_update",
    "symmetric_difference_update", "fill", "resize", "put", "itemset", "partition", "setflags",
    "byteswap", "fit", "partial_fit", "fit_transform", "fit_predict", "fit_resample", "train",
    "eval", "compile", "load_state_dict", "zero_grad", "step", "backward", "seed", "shuffle",
))  # fmt: skip
_MUTATING_PREFIXES = ("set_", "add_", "remove_", "update_", "fit_", "partial_fit")
# Methods that only show, query, copy or export their receiver, for every common type that has
# them (``plot``/``hist`` are not here: on Matplotlib axes they draw into the receiver).
_PURE = frozenset((
    "head", "tail", "describe", "info", "value_counts", "nunique", "unique", "count", "sum",
    "mean", "median", "min", "max", "std", "var", "mode", "quantile", "corr", "cov", "isna",
    "isnull", "notna", "notnull", "any", "all", "memory_usage", "copy", "keys", "values", "items",
    "index", "show", "summary", "savefig", "predict", "predict_proba", "predict_log_proba",
    "decision_function", "score", "transform", "inverse_transform", "sort_values", "sort_index",
    "sample", "nlargest", "nsmallest", "groupby", "agg", "aggregate", "select_dtypes", "astype",
    "round", "abs", "cumsum", "diff", "pct_change", "drop", "dropna", "fillna", "replace",
    "rename", "reset_index", "set_index", "drop_duplicates", "duplicated", "merge", "join",
    "concat", "pivot", "pivot_table", "melt", "query", "filter", "equals", "tolist", "tobytes",
    "tofile", "dumps", "save", "save_model", "display",
))  # fmt: skip
_PURE_PREFIXES = ("to_", "get_", "is_", "has_")


def call_effect(call: ast.Call) -> str | None:
    """What a method-call statement does to its receiver, as ``Use.how``: ``"mutated by
    .fit()"``, ``"may be changed by .optimize()"`` for a method of no known list, or None for a
    method that leaves it as it was (``.head()``, ``.to_csv(...)``, ``.value_counts()``).

    A method no list knows counts as a change: the runtime check (``values.save_outputs``)
    catches a missed change only in a value the stage loaded, not in a setup global it rebuilds,
    and a needless output only costs a save. pandas' ``inplace=`` decides for itself.
    """
    assert isinstance(call.func, ast.Attribute)
    name = call.func.attr
    inplace = next((k.value for k in call.keywords if k.arg == "inplace"), None)
    if inplace is not None:
        if isinstance(inplace, ast.Constant) and inplace.value is True:
            return f"mutated by .{name}(inplace=True)"
        if not isinstance(inplace, ast.Constant):
            return f"may be changed by .{name}(inplace=...)"
    if name in _PURE:
        return None  # without inplace=True, pandas' drop/fillna/set_index... return a copy
    if (
        name in _MUTATING
        or name.startswith(_MUTATING_PREFIXES)
        or (name.endswith("_") and not name.startswith("_"))  # PyTorch's add_, zero_, clamp_
        or name == "__setitem__"
    ):
        return f"mutated by .{name}()"
    if name.startswith(_PURE_PREFIXES):
        return None
    return f"may be changed by .{name}()"


def _bind(name: str, line: int) -> ast.stmt:
    """A synthetic ``name = None`` statement, to replay a binding inside a branch."""
    return ast.Assign(
        targets=[ast.Name(name, ast.Store(), lineno=line)],
        value=ast.Constant(None, lineno=line),
        lineno=line,
    )


def _sources(expr: ast.expr | None) -> list[str]:
    """The names whose objects ``expr`` may evaluate to (part of): ``t`` for ``t``, ``t["a"]``
    or ``t.x``; each name of ``[a, b]``; ``d`` for ``d.values()`` / ``d.items()``."""
    if isinstance(expr, (ast.List, ast.Tuple)):
        return [n for e in expr.elts for n in _sources(e)]
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and not expr.args
        and expr.func.attr in ("values", "items")
    ):
        expr = expr.func.value
    if isinstance(expr, (ast.Name, ast.Attribute, ast.Subscript)):
        root = _root_name(expr)
        return [root.id] if root is not None else []
    return []


def _root_name(expr: ast.expr) -> ast.Name | None:
    """``model`` in ``model.layers[0].weights``; None through a call (``f().x`` is not f's state)."""
    node = expr
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node if isinstance(node, ast.Name) else None


def _kind(target: ast.expr) -> str:
    return "subscript" if isinstance(target, ast.Subscript) else "attribute"


class TooDeep(Exception):
    """A cell whose syntax tree is too deep to walk (thousands of nested operations)."""

    def __init__(self, cell: int) -> None:
        super().__init__(cell)
        self.cell = cell


# Deep enough for any hand-written expression (a sum of thousands of terms), far below the
# point where the C stack would be at risk.
_DEPTH = 20_000


def analyze(trees: list[tuple[int, ast.Module]], modules: set[str] | None = None) -> Flow:
    """The data flow of a stage made of ``(cell position, parsed cell)`` pairs, in order."""
    analyzer = FlowAnalyzer(modules)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _DEPTH))
    try:
        for cell, tree in trees:
            try:
                analyzer.add_cell(tree, cell)
            except RecursionError:
                raise TooDeep(cell) from None
    finally:
        sys.setrecursionlimit(limit)
    return analyzer.flow
