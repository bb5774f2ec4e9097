"""YAML text -> data, plus a map from each dotted key path to its line.

Error messages name the line of the key they are about; the map is built from
``yaml.compose`` node marks. Duplicate keys, which PyYAML would silently
collapse, are rejected here.
"""

from __future__ import annotations

from typing import Any

import yaml

from gosim.errors import ConfigError


def line_map(root: yaml.Node | None) -> dict[str, int]:
    """Dotted key path -> 1-based line of its key (or list item) under ``root``.

    Raises :class:`ConfigError` (without a file) on a duplicate key.
    """
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in node.value:
                key = str(k.value)
                path = f"{prefix}.{key}" if prefix else key
                if key in seen:
                    raise ConfigError("duplicate key", key=path, line=k.start_mark.line + 1)
                seen.add(key)
                lines[path] = k.start_mark.line + 1
                walk(v, path)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                path = f"{prefix}.{i}" if prefix else str(i)
                lines[path] = v.start_mark.line + 1
                walk(v, path)

    if root is not None:
        walk(root, "")
    return lines


def read_yaml(text: str, file: str | None) -> tuple[Any, dict[str, int]]:
    """Parse ``text`` once: its data and its line map (raises :class:`ConfigError`)."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        lines = line_map(root)
        data = loader.construct_document(root) if root is not None else None
    except ConfigError as e:
        raise ConfigError(e.detail, file=file, key=e.key, line=e.line) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"malformed YAML: {problem}", file=file,
                          line=mark.line + 1 if mark else None) from None
    finally:
        loader.dispose()
    return data, lines
