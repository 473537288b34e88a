"""Which adapter class serves which catalogue ``adapter`` value."""

from __future__ import annotations

from django.utils.module_loading import import_string

from .base import Adapter

ADAPTERS: dict[str, str] = {
    "demo": "providers.demo.DemoAdapter",
    "kie": "providers.kie.KieAdapter",
}


def get_adapter(name: str) -> Adapter:
    """A fresh adapter instance for ``name``; ``KeyError`` for an unknown one."""
    adapter_class: type[Adapter] = import_string(ADAPTERS[name])
    return adapter_class()
