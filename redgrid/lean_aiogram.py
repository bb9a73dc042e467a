"""Let aiogram build its pydantic models on first use instead of at import.

``aiogram/types/__init__.py`` ends with a loop that calls
``model_rebuild(_types_namespace=...)`` on every Telegram type (aiogram issue #1513). That
builds the validator and serializer of all ~400 types, each holding its own copy of every
type it nests: about 145 MB, for a bot that meets a few dozen types. The types are declared
``defer_build=True``; only that loop defeats it.

``install()``, called from ``redgrid/__init__.py``, puts a one-shot import hook in front of
aiogram. When aiogram is imported, by whatever code, the hook runs that import with
``BaseModel.model_rebuild`` swapped for a stand-in that notes, instead of doing, the
rebuilds the loop asks for (the original is put back in a ``finally``). Each model left
unbuilt (the types, and the methods whose build needed them) is then built exactly as the
loop would have built it, ``model_rebuild(_types_namespace=<the loop's namespace>)``, the
first time that

* pydantic needs its validator, serializer or schema (pydantic's own deferred-build
  placeholders, pointed at that call), or
* an object of it is made, even inside another model's validation (its
  ``model_post_init``), so that every object around has a built class, as pydantic's
  serializer expects when it meets one in an ``Any`` field.

The loop's names are also set, where missing, in the globals of the ``aiogram.types.*``
and ``aiogram.methods.*`` modules, so that a model nesting an unbuilt type (aiogram's own
``Response[Message]``) can resolve that type's annotations too. What is built, and from
what, is unchanged; only when changes. First builds take no lock, as with any deferred
pydantic model: on the bot's one event-loop thread they never overlap.

It acts only if aiogram is not imported yet and the installed aiogram is the minor release
pinned in pyproject.toml, since it relies on aiogram's and pydantic's internals; anything
unexpected builds every model at once, as aiogram does. ``REDGRID_EAGER_AIOGRAM=1`` turns
it off. ``tests/test_lean_aiogram.py`` builds every type and method lazily and compares
them with aiogram's own, so an upgrade that breaks this fails the tests.
"""

import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

PINNED_MINOR = "3.31"  # pyproject.toml: aiogram>=3.31,<3.32
SWITCH = "REDGRID_EAGER_AIOGRAM"
MODULES = ("aiogram.types.", "aiogram.methods.")  # where the models live
# What pydantic puts on a model until it is built (pydantic._internal._mock_val_ser).
PLACEHOLDERS = ("__pydantic_core_schema__", "__pydantic_validator__", "__pydantic_serializer__")

Namespace = Mapping[str, Any]

_deferred_rebuilds = 0  # how many rebuilds the import of aiogram put off


def install() -> bool:
    """Make the coming import of aiogram lean; True when the hook is in place."""
    if os.environ.get(SWITCH, "") not in ("", "0"):
        log.debug("%s is set: aiogram builds its models at import", SWITCH)
        return False
    if "aiogram.types" in sys.modules:
        log.debug("aiogram.types is already imported: its models are built already")
        return False
    if not any(isinstance(finder, _Hook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Hook())  # it removes itself once it has done its work
    return True


def is_lean() -> bool:
    """Whether aiogram was imported lean: its models are built on first use."""
    return _deferred_rebuilds > 0


def build_now(*models: type) -> None:
    """Build these models now, if not built yet (nothing to do if aiogram was eager)."""
    for model in models:
        if not model.__pydantic_complete__:
            model.__pydantic_validator__.title  # noqa: B018 - the access builds it


class _Hook(importlib.abc.MetaPathFinder):
    """Finds the ``aiogram`` package as the other finders do, and wraps its loader."""

    def __init__(self) -> None:
        self.done = False

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "aiogram" or self.done:
            return None
        self.done = True
        version = _installed_version()
        if version is None or version.split(".")[:2] != PINNED_MINOR.split("."):
            log.warning("aiogram %s is not %s.x: imported as it is", version, PINNED_MINOR)
            return None
        spec = importlib.util.find_spec(fullname)  # what the other finders say
        if spec is None or spec.loader is None:
            return None
        spec.loader = _LeanLoader(spec.loader, self)
        return spec


def _installed_version() -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version("aiogram")
    except importlib.metadata.PackageNotFoundError:
        return None


class _LeanLoader(importlib.abc.Loader):
    """Runs aiogram's own loader with the rebuild loop put off, then sets up lazy builds."""

    def __init__(self, loader: importlib.abc.Loader, hook: _Hook) -> None:
        self.loader = loader
        self.hook = hook

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        global _deferred_rebuilds
        # The import system is done with the finders now (the hook could not leave while
        # they were being looped over), and the module looks as if imported normally.
        if self.hook in sys.meta_path:
            sys.meta_path.remove(self.hook)
        module.__loader__ = module.__spec__.loader = self.loader
        deferred = _import_deferring_rebuilds(self.loader, module)
        try:
            namespace = _one_namespace(deferred)
            _prepare_lazy_builds(namespace)
        except Exception:
            log.warning("aiogram is not as expected: its models are built now", exc_info=True)
            for cls, namespace in deferred.items():
                cls.model_rebuild(_types_namespace=namespace)
            return
        _deferred_rebuilds = len(deferred)
        log.debug("aiogram imported lean: %d model rebuilds put off", len(deferred))


def _import_deferring_rebuilds(
    loader: importlib.abc.Loader, module: ModuleType
) -> dict[type, Namespace]:
    """Import aiogram; return the types whose rebuild its loop asked for, with the namespace."""
    from pydantic import BaseModel

    original = BaseModel.__dict__["model_rebuild"]
    deferred: dict[type, Namespace] = {}

    def model_rebuild(cls: type[BaseModel], *args: Any, **kwargs: Any) -> bool | None:
        namespace = kwargs.get("_types_namespace")
        if not args and kwargs.keys() == {"_types_namespace"} and _is_aiogram_type(cls):
            deferred[cls] = namespace
            return None  # as model_rebuild answers when there is nothing to do
        if namespace is None and kwargs.get("_parent_namespace_depth", 2) > 0:
            # The caller's frame is one further away: this function is in between.
            kwargs["_parent_namespace_depth"] = kwargs.get("_parent_namespace_depth", 2) + 1
        return original.__get__(None, cls)(*args, **kwargs)

    BaseModel.model_rebuild = classmethod(model_rebuild)
    try:
        loader.exec_module(module)
    finally:
        BaseModel.model_rebuild = original
    return deferred


def _one_namespace(deferred: dict[type, Namespace]) -> Namespace:
    namespaces = {id(namespace): namespace for namespace in deferred.values()}
    if len(namespaces) != 1:  # the loop passes one namespace to every rebuild
        raise LookupError(f"aiogram's types were rebuilt with {len(namespaces)} namespaces")
    return next(iter(namespaces.values()))


def _prepare_lazy_builds(namespace: Namespace) -> None:
    from pydantic._internal._mock_val_ser import MockCoreSchema, MockValSer

    modules = [m for name, m in list(sys.modules.items()) if name.startswith(MODULES) and m]
    unbuilt = {
        value
        for module in modules
        for value in vars(module).values()
        if _is_aiogram_model(value) and not value.__pydantic_complete__
    }
    for cls in unbuilt:
        build = _builder(cls, namespace)
        for attribute in PLACEHOLDERS:
            placeholder = cls.__dict__[attribute]
            if not isinstance(placeholder, MockCoreSchema | MockValSer):
                raise TypeError(f"{cls.__qualname__}.{attribute} is not a placeholder")
            # Instead of pydantic's rebuild, which takes names from the caller's frames.
            placeholder._attempt_rebuild = _then_get(build, cls, attribute)
        cls.model_post_init = _building_post_init(cls, build)
    for module in modules:
        for name, value in namespace.items():
            module.__dict__.setdefault(name, value)


def _builder(cls: type, namespace: Namespace) -> Callable[[], bool | None]:
    def build() -> bool | None:
        # What the loop in aiogram/types/__init__.py calls, without raising (as pydantic's
        # own placeholders ask: a failure leaves pydantic's "not fully defined" error).
        return cls.model_rebuild(raise_errors=False, _types_namespace=namespace)

    return build


def _then_get(build: Callable[[], bool | None], cls: type, attribute: str) -> Callable:
    def attempt_rebuild() -> Any:
        return getattr(cls, attribute) if build() is not False else None

    return attempt_rebuild


def _building_post_init(cls: type, build: Callable[[], bool | None]) -> Callable:
    post_init = cls.__dict__["model_post_init"]  # pydantic's, which aiogram's runs in

    def model_post_init(self: Any, context: Any, /) -> None:
        if cls.__pydantic_complete__ or build() is not False:
            cls.model_post_init = post_init  # built: this hook has done its work
        post_init(self, context)

    return model_post_init


def _is_aiogram_type(cls: type) -> bool:
    """Whether ``cls`` is one of the types the loop in aiogram/types/__init__.py rebuilds."""
    return cls.__module__.startswith("aiogram.types.")


def _is_aiogram_model(value: Any) -> bool:
    from pydantic import BaseModel

    return (
        isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__.startswith(MODULES)
    )
