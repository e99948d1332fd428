"""Deprecated names of :mod:`provable_mha.gd`, kept working for one release.

The attention matrices of the classifier were called ``W`` and the flat parameter vector
``theta``; the package names attention matrices :math:`\\Theta` (``thetas``) everywhere, so
they are now ``thetas`` (:math:`\\Theta_h`) and ``params`` (:math:`\\omega`), see docs/gd.md §1.
The old keyword arguments and attributes still work and emit a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import functools
import warnings

__all__ = ["renamed_kwargs", "deprecated_attribute", "warn_renamed"]

def warn_renamed(old: str, new: str, what: str = "argument", stacklevel: int = 3) -> None:
    """Emit the :class:`DeprecationWarning` for a renamed ``what`` (argument or attribute)."""
    warnings.warn(f"the {what} {old!r} of provable_mha.gd is deprecated and will be removed in the "
                  f"next release; use {new!r} (docs/gd.md §1: Θ_h are the attention matrices, "
                  f"ω = params the flat parameter vector)", DeprecationWarning, stacklevel=stacklevel)


def renamed_kwargs(**old_to_new: str):
    """Decorator: accept each old keyword name as a deprecated alias of its new name.

    Passing both the old and the new name raises :class:`TypeError`, as Python does for a
    repeated argument.
    """
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__qualname__}() got both {new!r} and its deprecated "
                                        f"alias {old!r}")
                    warn_renamed(old, new)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)
        return wrapper
    return decorate


def deprecated_attribute(old: str, new: str, settable: bool = False) -> property:
    """A property ``old`` that reads (and, if ``settable``, writes) attribute ``new`` with a warning."""
    def fget(self):
        warn_renamed(old, new, "attribute")
        return getattr(self, new)

    def fset(self, value):
        warn_renamed(old, new, "attribute")
        setattr(self, new, value)

    return property(fget, fset if settable else None, doc=f"Deprecated alias of :attr:`{new}`.")
