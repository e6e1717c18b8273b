"""Derived genes: small arithmetic expressions over other fields (`heads: {expr: "channels // 32"}`).

An expression may use numbers, + - * / // % **, parentheses, min/max/int/round/abs, `stage` (the
enclosing stage's index) and field paths (`channels`, `stages[0].channels`, `stem.layers[1].channels`).
A bare path is looked up in the enclosing stage first, then at the genotype's root. A list literal
may be indexed (`[8, 4, 2, 1][stage]`: one value per stage). Nothing else is allowed: the text is parsed with `ast` and walked, never passed to `eval`.
"""
from __future__ import annotations

import ast
import operator
from typing import Any, Callable

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
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as err:
        raise ExprError(f"cannot parse {text!r}: {err.msg}") from None
    _vet(tree)
    return tree


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
    """Value of a vetted expression; `lookup(path)` gives a field's value (raises ExprError if unknown)."""
    if isinstance(tree, ast.Constant):
        return tree.value
    if isinstance(tree, ast.BinOp):
        try:
            return _BINARY[type(tree.op)](evaluate(tree.left, lookup), evaluate(tree.right, lookup))
        except (ZeroDivisionError, TypeError, OverflowError) as err:
            raise ExprError(f"{ast.unparse(tree)!r}: {err}") from None
    if isinstance(tree, ast.UnaryOp):
        value = evaluate(tree.operand, lookup)
        return -value if isinstance(tree.op, ast.USub) else value
    if isinstance(tree, ast.Call):
        assert isinstance(tree.func, ast.Name)
        try:
            return _FUNCTIONS[tree.func.id](*(evaluate(a, lookup) for a in tree.args))
        except (TypeError, ValueError) as err:
            raise ExprError(f"{ast.unparse(tree)!r}: {err}") from None
    if isinstance(tree, (ast.List, ast.Tuple)):
        return [evaluate(item, lookup) for item in tree.elts]
    if isinstance(tree, ast.Subscript) and isinstance(tree.value, (ast.List, ast.Tuple)):
        items, index = evaluate(tree.value, lookup), evaluate(tree.slice, lookup)
        if isinstance(index, bool) or not isinstance(index, int) or not -len(items) <= index < len(items):
            raise ExprError(f"{ast.unparse(tree)!r}: index {index!r} is outside the {len(items)} values")
        return items[index]
    return lookup(path_of(tree))
