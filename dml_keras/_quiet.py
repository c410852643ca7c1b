"""Import Keras (and TensorFlow) late, once, without the screen of C++ start-up logs.

`import dml_keras` imports neither: the `dml` command parses its arguments
and answers `--help` at once. The first time anything imports `keras` or
`tensorflow` afterwards (a workflow, `dml_keras.load_model`, a model class,
or the user's own `import keras`), `install()`'s import hook runs that import
with stderr muted, lists TensorFlow's devices inside the same mute (where
the CUDA probing prints), and then registers the package's serializable
classes with Keras, so that `keras.saving.load_model("model.keras")` works
after `import dml_keras` as before. Logs stay when `TF_CPP_MIN_LOG_LEVEL` is
set (the user chose a level); `dml --verbose` sets it to 0.
"""

import importlib.abc
import importlib.util
import os
import sys

_NAMES = ("keras", "tensorflow")


def _muted(function):
    """Run `function()` with file descriptor 2 pointed at /dev/null unless the user set a TF log level."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return function()
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            return function()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _Loader(importlib.abc.Loader):
    """The real loader of `keras` or `tensorflow`, run muted; afterwards the package registers its classes."""

    def __init__(self, loader, name, finder):
        self._loader, self._name, self._finder = loader, name, finder

    def __getattr__(self, attribute):  # resources, get_code, ...: the real loader's
        return getattr(self._loader, attribute)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        def load():
            self._loader.exec_module(module)
            if self._name == "tensorflow":
                module.config.list_physical_devices()
            elif "tensorflow" in sys.modules and sys.modules["tensorflow"] is not None:
                sys.modules["tensorflow"].config.list_physical_devices()

        self._finder.loading = True
        try:
            _muted(load)
        finally:
            self._finder.loading = False
        if self._name == "keras":
            # the package modules part-way through their import (Keras came from one): registering before they
            # finish would import them again, in a cycle
            self._finder.waiting = [module for name, module in list(sys.modules.items())
                                    if name.startswith("dml_keras.") and _initializing(module)]
            self._finder.keras_loaded = True
            self._finder.register()


def _initializing(module):
    return getattr(getattr(module, "__spec__", None), "_initializing", False)


class _FirstImport(importlib.abc.MetaPathFinder):
    loading = False
    keras_loaded = False
    waiting = ()

    def register(self):
        """Register the package's classes with Keras once Keras is in, unless a package module that Keras's import
        came from is still importing: then on the next import after it finishes (this finder waits for it)."""
        if not self.keras_loaded or self.loading or any(_initializing(module) for module in self.waiting):
            return
        self.remove()
        import dml_keras.models  # noqa: F401  (registers every serializable class with Keras)

    def find_spec(self, name, path=None, target=None):
        if self.keras_loaded:
            self.register()
            return None
        if name not in _NAMES or self.loading:
            return None
        self.loading = True  # find the real spec with this finder out of the way
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.loading = False
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Loader(spec.loader, name, self)
        return spec

    def remove(self):
        if self in sys.meta_path:
            sys.meta_path.remove(self)


def install():
    """Set up the muted first import (or, when Keras is imported already, register the classes now)."""
    if "keras" in sys.modules:
        import dml_keras.models  # noqa: F401
        return
    if not any(isinstance(finder, _FirstImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _FirstImport())


def register_pending():
    """Register the classes now if Keras came in while a package module was importing (the lazy getattrs call this)."""
    for finder in list(sys.meta_path):
        if isinstance(finder, _FirstImport):
            finder.register()
