"""The ``kie`` provider: kie.ai, one module per API family.

* :mod:`.client`: the one HTTP seam (envelope, error table, calls, the shared
  create and poll limiters, downloads, callback signatures), docs/kie.md §1;
* :mod:`.uploads`: user files to kie.ai's upload host (§1 File upload);
* :mod:`.family`: what every family has in common, and shared readers;
* one file per family: :mod:`.market` (§2.1, §2.9; every Market model is a
  catalogue row, no code), :mod:`.veo` (§2.2), :mod:`.veo_upscale` (§2.2
  1080p and 4K), :mod:`.runway` (§2.3), :mod:`.flux` (§2.5 Flux Kontext);
* :mod:`.adapter`: :class:`KieAdapter`, which picks a task's family and drives it.
"""

from .adapter import FAMILIES, KieAdapter, family_for
from .client import NAME, POLL_RATE_LIMIT_KEY, RATE_LIMIT_KEY, callback_signature, check_envelope, error_for
from .market import task_result

__all__ = [
    "FAMILIES",
    "NAME",
    "POLL_RATE_LIMIT_KEY",
    "RATE_LIMIT_KEY",
    "KieAdapter",
    "callback_signature",
    "check_envelope",
    "error_for",
    "family_for",
    "task_result",
]
