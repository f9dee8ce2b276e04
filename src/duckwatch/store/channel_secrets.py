"""Which parts of a notification channel are secret; moving them into the secret file, or masking them.

Secret: a webhook target's path and query (everything after ``scheme://host[:port]/``; the whole URL when
it carries ``user:password@``), every value under a config key named like a password, token, secret,
API key, authorization or credential, and every webhook header value. A value that already holds a
``${secret|env|file:…}`` reference is stored as written: the user chose what is secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from duckwatch.store.secrets import MASK, has_reference, references, split_url

__all__ = ["ChannelSpec", "literals", "masked", "secret_names", "to_references"]

ChannelSpec = tuple[str, str, Any]  # (kind, target, config)
Replace = Callable[[str, str], str]  # (field, literal value) -> what is kept in its place

_SECRET_KEY = re.compile(
    r"passw(or)?d|passphrase|^pass$|secret|token|api[-_]?key|authori[sz]ation|credential|private[-_]?key",
    re.IGNORECASE,
)
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]")


def _config(value: Any, path: tuple[str, ...], secret: bool, replace: Replace) -> Any:
    if isinstance(value, Mapping):
        return {
            k: _config(
                v,
                (*path, str(k)),
                secret or bool(_SECRET_KEY.search(str(k))) or str(k).lower() == "headers",
                replace,
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_config(v, (*path, str(i)), secret, replace) for i, v in enumerate(value)]
    if not secret or value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
        return value
    text = str(value)
    if not text or has_reference(text):
        return value
    return replace(".".join(path), text)


def _transform(kind: str, target: str, config: Any, replace: Replace) -> tuple[str, Any]:
    new_config = _config(config, (), False, replace)
    if kind != "webhook" or has_reference(target):
        return target, new_config
    shown, hidden = split_url(target)
    return (shown + replace("target", hidden) if hidden else target), new_config


def literals(kind: str, target: str, config: Any) -> list[tuple[str, str]]:
    """Every literal secret of one channel as (field, value), e.g. ('password', 's3cret')."""
    found: list[tuple[str, str]] = []

    def keep(field: str, value: str) -> str:
        found.append((field, value))
        return value

    _transform(kind, target, config, keep)
    return found


def masked(kind: str, target: str, config: Any) -> tuple[str, Any]:
    """The channel with every literal secret shown as the mask (references are not secrets: kept)."""
    return _transform(kind, target, config, lambda _field, _value: MASK)


def secret_names(values: Iterable[Any]) -> set[str]:
    """Names of the ``${secret:…}`` references found in targets/configs."""
    return {name for value in values for scheme, name in references(value) if scheme == "secret"}


def _slug(model: str) -> str:
    return "any-model" if model == "*" else _NAME_UNSAFE.sub("_", model) or "_"


def to_references(
    model: str, channels: Iterable[ChannelSpec], taken: set[str]
) -> tuple[list[ChannelSpec], dict[str, str]]:
    """Channels with literal secrets replaced by ``${secret:NAME}``, and the {NAME: value} to store.

    Names are ``<model>.<kind><n>.<field>`` (n counts channels of that kind), so applying the same file
    again rewrites the same secrets; a name in ``taken`` (referenced elsewhere) gets a ``-2``… suffix.
    """
    moved: dict[str, str] = {}
    used = set(taken)
    counts: dict[str, int] = {}
    out: list[ChannelSpec] = []
    for kind, target, config in channels:
        counts[kind] = counts.get(kind, 0) + 1
        prefix = f"{_slug(model)}.{kind}{counts[kind]}"

        def store(field: str, value: str, prefix: str = prefix) -> str:
            base = f"{prefix}.{_NAME_UNSAFE.sub('_', field)}"
            name, n = base, 1
            while name in used:
                n += 1
                name = f"{base}-{n}"
            used.add(name)
            moved[name] = value
            return f"${{secret:{name}}}"

        new_target, new_config = _transform(kind, target, config, store)
        out.append((kind, new_target, new_config))
    return out, moved
