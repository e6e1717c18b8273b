"""Derived genes: small arithmetic expressions over other fields (`heads: {expr: "channels // 32"}`).

An expression may use numbers, + - * / // % **, parentheses, min/max/int/round/abs, `stage` (the
enclosing stage's index) and field paths (`channels`, `stages[0].channels`, `stem.layers[1].channels`).
A bare path is looked up in the enclosing stage first, then at the genotype's root. A list literal
may be indexed (`[8, 4, 2, 1][stage]`: one value per stage). Nothing else is allowed: the text is parsed with `ast` and walked, never passed to `eval`.

The arithmetic is bounded so that no expression can hang or exhaust memory: exponents within
+-MAX_EXPONENT, numbers within +-MAX_MAGNITUDE (finite), lists of at most MAX_ITEMS values (list
repetition included), texts of at most MAX_TEXT characters nested at most MAX_DEPTH deep. Parts without field paths are evaluated
when the expression is parsed, so `10**10**10` or `max([1] * 10**10)` is refused when the space loads.
"""
from __future__ import annotations

import ast
import math
import operator
from typing import Any, Callable

MAX_TEXT = 1000
MAX_DEPTH = 50
MAX_EXPONENT = 64
MAX_MAGNITUDE = 10**15
MAX_ITEMS = 1000
MAX_NDIGITS = 20

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "int": int, "round": round, "abs": abs}


class ExprError(ValueError):
    """An expression is malformed or names something it may not use."""


def parse_expr(text: str) -> ast.expr:
    """Parse and vet an expression; raises ExprError naming what is not allowed."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError("an expression must be a non-empty string")
    if len(text) > MAX_TEXT:
        raise ExprError(f"an expression of {len(text):,} characters is too long (at most {MAX_TEXT})")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as err:
        raise ExprError(f"cannot parse {text!r}: {err.msg}") from None
    except (RecursionError, MemoryError):
        raise ExprError(f"cannot parse {text[:40]!r}...: nested too deeply") from None
    _check_depth(tree)
    _vet(tree)
    _fold(tree)
    return tree


def _check_depth(tree: ast.AST) -> None:
    """Refuse an expression nested deeper than MAX_DEPTH (walked without recursion)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExprError(f"an expression nested more than {MAX_DEPTH} levels deep is not allowed")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _fold(tree: ast.expr) -> None:
    """Evaluate the parts of a vetted expression that name no field, so out-of-bounds arithmetic fails at parse time."""
    if not _names_field(tree):
        evaluate(tree, _no_lookup)
        return
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.expr) and not _is_path(child):
            _fold(child)


def _names_field(tree: ast.AST) -> bool:
    """Whether a vetted expression reads a field (function names do not count)."""
    if _is_path(tree):
        return True
    children = tree.args if isinstance(tree, ast.Call) else ast.iter_child_nodes(tree)
    return any(_names_field(child) for child in children)


def _no_lookup(name: str) -> Any:
    raise ExprError(f"names {name!r}")  # unreachable: _fold evaluates only parts without paths


def _bounded(value: Any, node: ast.AST) -> Any:
    """`value` if it lies within the bounds of the module docstring, else an ExprError naming the part."""
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise ExprError(f"{_short(node)!r} makes a list of {len(value):,} values (at most {MAX_ITEMS})")
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise ExprError(f"{_short(node)!r} is {value} (numbers must be finite)")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_MAGNITUDE:
        raise ExprError(f"{_short(node)!r} exceeds {MAX_MAGNITUDE:.0e} in magnitude")
    return value


def _short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _binary(op: ast.operator, left: Any, right: Any, node: ast.BinOp) -> Any:
    """One bounded binary operation: checks exponents and list repetition before computing."""
    if isinstance(op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
        raise ExprError(f"{_short(node)!r}: exponent {right:g} is outside +-{MAX_EXPONENT}")
    if isinstance(op, ast.Mult) and (isinstance(left, list) or isinstance(right, list)):
        items, times = (left, right) if isinstance(left, list) else (right, left)
        if isinstance(times, int) and len(items) * max(times, 0) > MAX_ITEMS:
            raise ExprError(f"{_short(node)!r} repeats a list to more than {MAX_ITEMS} values")
    return _BINARY[type(op)](left, right)


def _vet(node: ast.AST) -> None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _vet(node.left)
        _vet(node.right)
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        _vet(node.operand)
        return
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and not node.keywords:
        for arg in node.args:
            _vet(arg)
        return
    if _is_path(node):
        return
    if isinstance(node, (ast.List, ast.Tuple)):
        for item in node.elts:
            _vet(item)
        return
    if isinstance(node, ast.Subscript) and isinstance(node.value, (ast.List, ast.Tuple)):
        _vet(node.value)
        _vet(node.slice)
        return
    raise ExprError(f"{ast.unparse(node)!r} is not allowed (numbers, + - * / // % **, min/max/int/round/abs, field paths, [list][index])")


def _is_path(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute):
        return _is_path(node.value)
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int) and _is_path(node.value)
    return False


def path_of(node: ast.AST) -> str:
    """The field path an expression node names: `stages[0].channels`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{path_of(node.value)}.{node.attr}"
    assert isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
    return f"{path_of(node.value)}[{node.slice.value}]"


def evaluate(tree: ast.expr, lookup: Callable[[str], Any]) -> Any:
    """Value of a vetted expression; `lookup(path)` gives a field's value (raises ExprError if unknown or out of bounds)."""
    if isinstance(tree, ast.Constant):
        return _bounded(tree.value, tree)
    if isinstance(tree, ast.BinOp):
        left, right = evaluate(tree.left, lookup), evaluate(tree.right, lookup)
        try:
            return _bounded(_binary(tree.op, left, right, tree), tree)
        except ExprError:
            raise
        except (ZeroDivisionError, TypeError, OverflowError, ValueError) as err:
            raise ExprError(f"{_short(tree)!r}: {err}") from None
    if isinstance(tree, ast.UnaryOp):
        value = evaluate(tree.operand, lookup)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExprError(f"{_short(tree)!r}: a sign needs a number, got {type(value).__name__}")
        return -value if isinstance(tree.op, ast.USub) else value
    if isinstance(tree, ast.Call):
        assert isinstance(tree.func, ast.Name)
        args = [evaluate(a, lookup) for a in tree.args]
        if tree.func.id == "round" and len(args) == 2 and isinstance(args[1], int) and abs(args[1]) > MAX_NDIGITS:
            raise ExprError(f"{_short(tree)!r}: round's digits are outside +-{MAX_NDIGITS}")
        try:
            return _bounded(_FUNCTIONS[tree.func.id](*args), tree)
        except ExprError:
            raise
        except (TypeError, ValueError, OverflowError) as err:
            raise ExprError(f"{_short(tree)!r}: {err}") from None
    if isinstance(tree, (ast.List, ast.Tuple)):
        return _bounded([evaluate(item, lookup) for item in tree.elts], tree)
    if isinstance(tree, ast.Subscript) and isinstance(tree.value, (ast.List, ast.Tuple)):
        items, index = evaluate(tree.value, lookup), evaluate(tree.slice, lookup)
        if isinstance(index, bool) or not isinstance(index, int) or not -len(items) <= index < len(items):
            raise ExprError(f"{_short(tree)!r}: index {index!r} is outside the {len(items)} values")
        return items[index]
    return _bounded(lookup(path_of(tree)), tree)
